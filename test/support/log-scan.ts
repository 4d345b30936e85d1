import { createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { secretOf } from '../../src/sessions/tickets.js';

/** A text to search: what a process wrote, a log file (decompressed), an event log. */
export interface Written {
  source: string;
  text: string;
}

/** A secret and the forms it may take in a line: the value itself and its encodings. */
export interface Secret {
  label: string;
  forms: string[];
}

/**
 * The base64 (or base64url) of `bytes` wherever they sit inside a larger encoded value (HTTP
 * Basic's `user:pass`, a JSON body encoded whole): with 0, 1 or 2 bytes before them (their
 * offset mod 3), the characters that depend on the secret's bytes alone, the edge groups that
 * mix in their neighbours (and the padding) trimmed off.
 */
const base64Middles = (bytes: Buffer, encoding: 'base64' | 'base64url') =>
  [0, 1, 2].map((before) => {
    const all = Buffer.concat([Buffer.alloc(before, 'x'), bytes]);
    const whole = Math.floor(all.length / 3) * 4; // the groups of three bytes all present
    // Before 1 byte: its group's first 2 characters carry it; before 2: the first 3.
    return all.toString(encoding).slice([0, 2, 3][before], whole);
  });

const encodings = (bytes: Buffer) => [
  bytes.toString('hex'),
  bytes.toString('base64'),
  bytes.toString('base64url'),
  ...base64Middles(bytes, 'base64'),
  ...base64Middles(bytes, 'base64url'),
];

/**
 * A secret string: itself, and the hex and base64 of its bytes, also inside a larger encoded
 * value (a line that encodes it, as a ticket's body or an HTTP Basic header is encoded, gives
 * it away as surely).
 */
export function secret(label: string, value: string): Secret {
  if (value.length < 8) throw new Error(`${label}: a secret of ${value.length} characters`);
  return { label, forms: [value, ...encodings(Buffer.from(value))] };
}

/** A secret of raw bytes (a derived key): in hex, base64 and base64url. */
export function secretBytes(label: string, value: Buffer): Secret {
  return { label, forms: encodings(value) };
}

/**
 * A private key in PEM: each line of its base64 body (every line carries key bytes), and for an
 * Ed25519 key its raw 32 bytes in hex and base64 (as a JWK's `d` carries them).
 */
export function privateKeySecret(label: string, pem: string): Secret {
  const block = /-----BEGIN [A-Z ]*PRIVATE KEY-----([\s\S]+?)-----END/.exec(pem);
  if (!block) throw new Error(`${label}: no private key in PEM`);
  const lines = block[1]!.split('\n').filter((l) => l.trim().length >= 40);
  const key = createPrivateKey(pem);
  const raw =
    key.asymmetricKeyType === 'ed25519'
      ? encodings(Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url'))
      : [];
  return { label, forms: [...lines.map((l) => l.trim()), ...raw] };
}

/** Purposes the code derives a secret for from the Inter-Appliance key (`secretOf`). */
const KEY_PURPOSES = ['client-ticket', 'jump-client-enrolment', 'jump-client-challenge'];

/** An Inter-Appliance key and the secrets the code derives from it. */
export const interApplianceKeySecrets = (label: string, key: string): Secret[] => [
  secret(label, key),
  ...KEY_PURPOSES.map((p) => secretBytes(`${label}'s ${p} secret`, secretOf(key, p))),
];

/** The private keys an appliance keeps in its data directory (TLS, identity, site CA, CSRF). */
export function applianceKeySecrets(dataDir: string, label: string): Secret[] {
  const file = (p: string) => readFileSync(path.join(dataDir, p), 'utf8');
  return [
    privateKeySecret(`${label}'s TLS key`, file('tls/key.pem')),
    privateKeySecret(`${label}'s identity key`, file('keys/identity.key')),
    privateKeySecret(`${label}'s copy of the site CA key`, file('keys/site-ca.pem')),
    secret(`${label}'s CSRF key`, file('keys/csrf.key').trim()),
  ];
}

/**
 * Every file under `dir` (recursively), whatever its name: rotated and compressed logs too
 * (gzip, recognised by its name or its magic bytes, is decompressed; a `.gz.partial` that a stop
 * cut short, even in its header, as far as it goes: `gunzipWhatCan`). Fails when the directory is
 * empty.
 */
export function filesUnder(dir: string): Written[] {
  const found: Written[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const bytes = readFileSync(p);
        const gzip = /\.gz(\.partial)?$/.test(e.name) || (bytes[0] === 0x1f && bytes[1] === 0x8b);
        found.push({ source: p, text: (gzip ? gunzipWhatCan(bytes) : bytes).toString('utf8') });
      }
    }
  };
  walk(dir);
  if (!found.length) throw new Error(`${dir} holds no file: nothing was logged there`);
  return found;
}

/**
 * What can be read of a gzip: all of it; of one cut short (in its header too: nothing) or
 * damaged past some point (what a crash may leave), the longest beginning that inflates. Never
 * throws: the scan reads what it can rather than failing on a file a stop left half written.
 */
export function gunzipWhatCan(bytes: Buffer): Buffer {
  const inflate = (n: number) =>
    gunzipSync(bytes.subarray(0, n), { finishFlush: constants.Z_SYNC_FLUSH });
  try {
    return inflate(bytes.length);
  } catch {
    // Search the longest beginning that inflates (a beginning of one that does, does too).
  }
  let best: Buffer = Buffer.alloc(0);
  let lo = 0;
  let hi = bytes.length;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    try {
      best = inflate(mid);
      lo = mid;
    } catch {
      hi = mid;
    }
  }
  return best;
}

/** Every row of a stopped appliance's event log (its SQLite store), as JSON. */
export function eventLogOf(dataDir: string): Written {
  const db = new Database(path.join(dataDir, 'store', 'gatehouse.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT * FROM events').all();
    if (!rows.length) throw new Error(`${dataDir}: an empty event log`);
    return { source: `${dataDir} event log`, text: rows.map((r) => JSON.stringify(r)).join('\n') };
  } finally {
    db.close();
  }
}

/** What a stopped appliance wrote: stdout and stderr, every file of its log directory, events. */
export function writtenByAppliance(label: string, output: string[], dataDir: string): Written[] {
  return [
    { source: `${label}'s stdout and stderr`, text: output.join('\n') },
    ...filesUnder(path.join(dataDir, 'logs')),
    eventLogOf(dataDir),
  ];
}

/**
 * The messages waiting in a stopped appliance's syslog spool (DATA_DIR/syslog/spool.db), as its
 * SQLite store gives them (a message spilt over pages whole); `filesUnder` gives the raw files.
 */
export function syslogSpoolOf(dataDir: string): Written {
  const db = new Database(path.join(dataDir, 'syslog', 'spool.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT data FROM spool ORDER BY seq').all() as { data: string }[];
    if (!rows.length) throw new Error(`${dataDir}: an empty syslog spool`);
    return { source: `${dataDir} syslog spool`, text: rows.map((r) => r.data).join('\n') };
  } finally {
    db.close();
  }
}

/** A ticket of any kind (console, Jump Client, session, resume): gt1.<claims>.<HMAC-SHA256>. */
const TICKET = /gt1\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;
/** An enrolment token: gjt1_ and 32 random bytes. */
const ENROLMENT_TOKEN = /gjt1_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;

/**
 * Where each secret (in any of its forms) shows in what was written, and any ticket or
 * enrolment token at all, known to the test or not: `secret label in source: …line…`.
 */
export function leaksIn(written: Written[], secrets: Secret[]): string[] {
  const leaks: string[] = [];
  for (const w of written) {
    const lineAt = (i: number) => {
      const start = w.text.lastIndexOf('\n', i) + 1;
      const end = w.text.indexOf('\n', i);
      return w.text.slice(start, end < 0 ? undefined : end).slice(0, 300);
    };
    for (const s of secrets)
      for (const form of s.forms) {
        const at = w.text.indexOf(form);
        if (at >= 0) leaks.push(`${s.label} in ${w.source}: ${lineAt(at)}`);
      }
    for (const [kind, shape] of [
      ['a ticket', TICKET],
      ['an enrolment token', ENROLMENT_TOKEN],
    ] as const)
      for (const m of w.text.matchAll(shape))
        leaks.push(`${kind} in ${w.source}: ${lineAt(m.index)}`);
  }
  return leaks;
}
