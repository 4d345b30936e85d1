/**
 * No secret in logs, for the update server (BRIEF, CONVENTIONS): the operator's password (and a
 * wrong one), its session cookie and CSRF tokens, registration tokens (one used, one refused),
 * appliances' download keys, download tickets, and the server's own secrets (its TLS key, the
 * CSRF and ticket secrets in its database) appear nowhere the server writes — its stdout and
 * stderr at the trace level, and what the `update-server` commands print besides the one answer
 * that shows a token — through an enrolment, a check, a download by key and one by ticket, and
 * the operator's sign-in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { ApplianceClient } from '../src/clients/admin-client.js';
import { startUpdateServerProcess, type UpdateServerProcess } from '../src/lab/processes.js';
import { generateEd25519, keyId, loadPrivateKey } from '../src/shared/crypto.js';
import { buildPackage } from '../src/updates/package.js';
import { UpdateServerClient } from '../src/updates/update-client.js';
import { tempDir } from './support/appliance.js';
import { cliResult } from './support/cli.js';
import {
  leaksIn,
  privateKeySecret,
  secret,
  type Secret,
  type Written,
} from './support/log-scan.js';
import { selfMadeAppliance } from './support/updates.js';

const OPERATOR_PASSWORD = 'Catalogue-Keeper-Secret-73';
const WRONG_PASSWORD = 'Not-The-Operator-Pw-19';

const form = (fields: Record<string, string>, cookie?: string) => ({
  raw: Buffer.from(new URLSearchParams(fields).toString()),
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'text/html',
    ...(cookie ? { cookie } : {}),
  },
});
const csrfIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

let server: UpdateServerProcess | undefined;
let http: ApplianceClient | undefined;
const clients: UpdateServerClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
  await http?.close();
  await server?.stop().catch(() => server?.kill());
});

describe('the update server logs', () => {
  it('no operator password, session or CSRF token, registration token, download key or ticket, nor its TLS key, CSRF or ticket secret', async () => {
    const root = tempDir('gh-secrets-updsrv-');
    const dataDir = path.join(root, 'server');
    const secrets: Secret[] = [
      secret('the operator password', OPERATOR_PASSWORD),
      secret('a wrong operator password', WRONG_PASSWORD),
    ];
    /** What the commands printed (the token they were asked to show left out). */
    const written: Written[] = [];
    const gatehouse = async (label: string, args: string[]) => {
      const r = await cliResult(['update-server', ...args, '--data-dir', dataDir]);
      expect(r.code, r.stderr).toBe(0);
      written.push({ source: `${label}'s stderr`, text: r.stderr });
      return r;
    };

    // A base package of a tiny tree, signed with a release key the server trusts.
    const release = generateEd25519();
    writeFileSync(path.join(root, 'release.pub'), release.publicKeyPem);
    writeFileSync(path.join(root, 'operator.txt'), `${OPERATOR_PASSWORD}\n`);
    const tree = path.join(root, 'tree');
    mkdirSync(path.join(tree, 'node_modules'), { recursive: true });
    writeFileSync(path.join(tree, 'package.json'), JSON.stringify({ name: 'gatehouse' }));
    const pkg = path.join(root, 'base.ghpkg');
    await buildPackage({
      kind: 'base',
      version: '1.1.0',
      from: tree,
      out: pkg,
      tmpDir: path.join(root, 'tmp-base'),
      signers: [{ key: loadPrivateKey(release.privateKeyPem), keyId: keyId(release.publicKeyPem) }],
    });
    const init = await gatehouse('init', [
      'init',
      '--release-key',
      path.join(root, 'release.pub'),
      '--admin-password-file',
      path.join(root, 'operator.txt'),
      '--address',
      '127.0.0.1',
    ]);
    written.push({ source: "init's stdout", text: init.stdout });
    server = await startUpdateServerProcess(dataDir, { logLevel: 'trace' });
    http = server.client();
    const published = await gatehouse('publish', ['publish', pkg]);
    written.push({ source: "publish's stdout", text: published.stdout });

    // An appliance enrols with a registration token at its first check, then downloads.
    /** A registration token for `appliance`, from the command line (its answer not searched). */
    const registrationToken = async (appliance: string) => {
      const created = await gatehouse('token create', [
        'token',
        'create',
        '--appliance',
        appliance,
        '--json',
      ]);
      const token = (JSON.parse(created.stdout) as { token: string }).token;
      secrets.push(secret(`a registration token for ${appliance}`, token));
      return token;
    };
    /** An appliance's download keys, each one a secret. */
    const downloadKeys = (name: string) => {
      const a = selfMadeAppliance(name);
      return () => {
        const key = a.token(3_600_000);
        secrets.push(secret(`a download key of ${name}`, key));
        return key;
      };
    };
    const clientOf = (name: string) => {
      const c = new UpdateServerClient({
        url: server!.url,
        fingerprint: server!.fingerprint,
        token: downloadKeys(name),
      });
      clients.push(c);
      return c;
    };
    const client = clientOf('secrets-appliance');
    const available = await client.check(await registrationToken('secrets-appliance'));
    expect(available.map((p) => `${p.kind} ${p.version}`)).toEqual(['base 1.1.0']);
    await client.download(available[0]!, path.join(root, 'downloaded.ghpkg'));
    // A registration token the server never gave: refused.
    const refusedToken = `${(await registrationToken('secrets-unused')).split('.')[0]}.${randomBytes(32).toString('base64url')}`;
    secrets.push(secret('a refused registration token', refusedToken));
    await expect(clientOf('secrets-refused').check(refusedToken)).rejects.toMatchObject({
      code: 'REGISTRATION_TOKEN_INVALID',
    });

    // An air-gapped appliance: its key and a registration token pasted on the download-key
    // page, links that carry tickets, one followed.
    const page = await http.call<string>(
      'POST',
      '/',
      form({
        downloadKey: downloadKeys('secrets-airgap')(),
        registrationToken: await registrationToken('secrets-airgap'),
      }),
    );
    expect(page.status).toBe(200);
    const links = [
      ...page.body.matchAll(/href="(\/api\/v1\/packages\/[0-9a-f]{64}\?ticket=[^"]+)"/g),
    ].map((m) => m[1]!.replace(/&amp;/g, '&'));
    expect(links).toHaveLength(1);
    const ticket = decodeURIComponent(new URL(links[0]!, server.url).searchParams.get('ticket')!);
    secrets.push(
      secret('a download ticket', ticket),
      secret("a ticket's HMAC", ticket.split('.')[1]!),
    );
    const file = await http.call<Buffer>('GET', links[0]!);
    expect(file.status).toBe(200);
    expect(createHash('sha256').update(file.body).digest('hex')).toBe(
      createHash('sha256').update(readFileSync(pkg)).digest('hex'),
    );

    // The operator signs in: a wrong password, then the right one; a page with the session.
    const signInPage = await http.call<string>('GET', '/admin/sign-in', {
      headers: { accept: 'text/html' },
    });
    const pre = String(signInPage.headers['set-cookie']).split(';')[0]!;
    const csrf = csrfIn(signInPage.body);
    secrets.push(secret('a pre-session cookie', pre.split('=')[1]!), secret('a CSRF token', csrf));
    const wrong = await http.call(
      'POST',
      '/admin/sign-in',
      form({ _csrf: csrf, password: WRONG_PASSWORD }, pre),
    );
    expect(wrong.status).toBe(401);
    const ok = await http.call(
      'POST',
      '/admin/sign-in',
      form({ _csrf: csrf, password: OPERATOR_PASSWORD }, pre),
    );
    expect(ok.status).toBe(303);
    const session = String(ok.headers['set-cookie']).split(';')[0]!;
    secrets.push(secret('the operator session cookie', session.split('=')[1]!));
    const admin = await http.call<string>('GET', '/admin', {
      headers: { accept: 'text/html', cookie: session },
    });
    expect(admin.status).toBe(200);
    secrets.push(secret("the operator session's CSRF token", csrfIn(admin.body)));

    await server.stop();
    await server.outputClosed;
    // The server's own secrets, read from its directory once it has stopped.
    secrets.push(
      privateKeySecret(
        "the server's TLS key",
        readFileSync(path.join(dataDir, 'tls', 'key.pem'), 'utf8'),
      ),
    );
    const db = new Database(path.join(dataDir, 'server.db'), { readonly: true });
    try {
      for (const key of ['csrf_secret', 'ticket_secret']) {
        const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
          { value: string } | undefined;
        expect(row?.value, key).toBeTruthy();
        secrets.push(secret(`the server's ${key}`, row!.value));
      }
    } finally {
      db.close();
    }
    written.push({
      source: "the update server's stdout and stderr",
      text: server.output.join('\n'),
    });
    // What was searched holds the requests made: the leaks would be among them.
    const logged = server.output.join('\n');
    for (const request of ['/api/v1/check', '/api/v1/packages/', '/admin/sign-in'])
      expect(logged, `${request} in the server's output`).toContain(request);
    expect(leaksIn(written, secrets)).toEqual([]);
  }, 180_000);
});
