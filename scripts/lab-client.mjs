// A client of a netns lab's appliances (the split-brain test, the network benchmark), run in a host's
// network namespace with node alone. `call CONFIG` makes one signed-in /login API call and
// prints {status, body}; `write CONFIG` writes users and files, one at a time, to whichever
// appliance accepts them, and prints one JSON line per acknowledged write until SIGTERM.
// TLS is pinned to each appliance's certificate fingerprint.
import { Buffer } from 'node:buffer';
import https from 'node:https';
import process from 'node:process';
import { setTimeout as delay } from 'node:timers/promises';

const [mode, raw] = process.argv.slice(2);
const config = JSON.parse(raw);
const TIMEOUT_MS = config.timeoutMs ?? 3_000;

function request(appliance, method, path, { json, body, token } = {}) {
  return new Promise((resolve) => {
    const data = json !== undefined ? Buffer.from(JSON.stringify(json)) : body;
    const req = https.request(
      {
        host: appliance.host,
        port: appliance.port,
        method,
        path,
        rejectUnauthorized: false,
        agent: false,
        timeout: TIMEOUT_MS,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(data
            ? {
                'content-type':
                  json !== undefined ? 'application/json' : 'application/octet-stream',
                'content-length': String(data.length),
              }
            : {}),
        },
      },
      (res) => {
        const pinned = res.socket.getPeerCertificate().fingerprint256 === appliance.fingerprint;
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          if (!pinned) return resolve({ status: 0, body: { code: 'FINGERPRINT_MISMATCH' } });
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON.
          }
          resolve({ status: res.statusCode, body: parsed });
        });
        res.on('error', () => resolve({ status: 0, body: { code: 'RESET' } }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: { code: e.message } }));
    req.end(data);
  });
}

const tokens = new Map();
async function signedIn(appliance, method, path, opts = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!tokens.has(appliance.name)) {
      const s = await request(appliance, 'POST', '/api/login/session', {
        json: { username: 'admin', password: config.password },
      });
      if (s.status !== 201) return s;
      tokens.set(appliance.name, s.body.token);
    }
    const r = await request(appliance, method, path, {
      ...opts,
      token: tokens.get(appliance.name),
    });
    if (r.status !== 401) return r;
    tokens.delete(appliance.name);
  }
  return { status: 401, body: {} };
}

async function call() {
  // Public paths (/health…) need no session: signing in each time would meet the throttle.
  const r = config.path.startsWith('/health')
    ? await request(config.appliance, config.method, config.path)
    : await signedIn(config.appliance, config.method, config.path, { json: config.json });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

async function write() {
  let stopping = false;
  process.on('SIGTERM', () => (stopping = true));
  let seq = 0;
  let preferred = 0;
  const refused = {};
  while (!stopping) {
    const id = `${config.client}-${seq++}`;
    const kind = seq % 2 ? 'user' : 'file';
    const appliance = config.appliances[preferred];
    const sentAt = Date.now();
    const r =
      kind === 'user'
        ? await signedIn(appliance, 'POST', '/api/login/users', {
            json: { username: id, displayName: id, password: 'Long-Enough-Pw-1' },
          })
        : await signedIn(appliance, 'PUT', `/api/login/files/${id}.txt`, {
            body: Buffer.from(`written by ${config.client} as ${id}\n`),
          });
    const ackAt = Date.now();
    if (r.status === 201) {
      const ack = { client: config.client, kind, id, appliance: appliance.name, sentAt, ackAt };
      process.stdout.write(`${JSON.stringify(ack)}\n`);
      continue;
    }
    const code = r.body?.code ?? `HTTP_${r.status}`;
    refused[code] = (refused[code] ?? 0) + 1;
    // Not accepted there (a backup, a fenced primary, unreachable): try the other one, after a
    // breath so a pair that accepts nothing is not hammered.
    preferred = 1 - preferred;
    await delay(50);
  }
  process.stdout.write(`${JSON.stringify({ client: config.client, refused })}\n`);
}

await (mode === 'write' ? write() : call());
