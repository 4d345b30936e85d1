/**
 * No secret in logs, for a failover pair (BRIEF, CONVENTIONS): the Inter-Appliance keys (the
 * ones the two appliances started with, a refused one, the one regenerated on the primary and
 * set on the backup), the secrets derived from them (ticket, Jump Client enrolment and challenge
 * keys; the site-wide Jump Client key an answer shows), the site certificate authority's key the
 * primary sends the backup when they pair, and each appliance's own private keys appear nowhere
 * either appliance writes — stdout, stderr, every file of its log directory (compressed ones
 * decompressed), its event log — at the trace level, through a refused and a real pairing,
 * a sync and the peers' heartbeats.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  establishPair,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import {
  applianceKeySecrets,
  filesUnder,
  interApplianceKeySecrets,
  leaksIn,
  secret,
  type Secret,
  type Written,
  writtenByAppliance,
} from './support/log-scan.js';

const KEY_A = 'secrets-pair-a-initial-key-0123456789abcdef';
const KEY_B = 'secrets-pair-b-initial-key-0123456789abcdef';

let a: TestAppliance;
let b: TestAppliance;

beforeAll(async () => {
  [a, b] = await Promise.all([
    startTestAppliance({
      name: 'secrets-a',
      host: '127.0.0.161',
      interApplianceKey: KEY_A,
      logLevel: 'trace',
    }),
    startTestAppliance({
      name: 'secrets-b',
      host: '127.0.0.162',
      interApplianceKey: KEY_B,
      logLevel: 'trace',
    }),
  ]);
  // ~10 s alone on a shared 2-core machine (two inits and starts side by side); 4× under CI.
}, 180_000);

describe('a failover pair logs', () => {
  it('no Inter-Appliance key, derived secret, site CA key or private key while pairing, syncing and checking on each other', async () => {
    const secrets: Secret[] = [
      ...interApplianceKeySecrets('key A', KEY_A),
      ...interApplianceKeySecrets('key B', KEY_B),
    ];

    // Different keys: the pairing is refused, and the proofs each side checked differed.
    const refused = await establishPair(a, b);
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect((refused.body as { code: string }).code).toBe('FAILOVER_KEY_MISMATCH');

    // A key refused as bad input is not written either.
    const bad = 'Refused-Key-Value-With-A-Bad-Character!-0123456789';
    secrets.push(secret('a refused key', bad));
    const badSet = await b.api.call('PUT', '/api/login/security/inter-appliance-key', {
      json: { key: bad },
    });
    expect(badSet.status).toBe(400);

    // Management > Security: a new key on the primary (shown in the answer, and again when
    // asked), copied to the backup (in the request's body).
    const regenerated = await a.api.call<{ key: string }>(
      'POST',
      '/api/login/security/inter-appliance-key/regenerate',
    );
    expect(regenerated.status).toBe(200);
    const key = regenerated.body.key;
    secrets.push(...interApplianceKeySecrets('the pair key', key));
    const shown = await a.api.call<{ key: string }>(
      'GET',
      '/api/login/security/inter-appliance-key',
    );
    expect(shown.body.key).toBe(key);
    const set = await b.api.call('PUT', '/api/login/security/inter-appliance-key', {
      json: { key },
    });
    expect(set.status).toBe(200);

    // Paired (the primary sends the backup the site CA with its key), synchronised.
    const paired = await establishPair(a, b);
    expect(paired.status, JSON.stringify(paired.body)).toBe(201);
    const sync = await a.api.call('POST', '/api/login/failover/sync');
    expect(sync.status, JSON.stringify(sync.body)).toBe(200);
    // The site-wide Jump Client key, derived from the pair's key, shown in an answer.
    const legacy = await a.api.call<{ key: string }>('GET', '/api/login/jump-clients/key');
    expect(legacy.status).toBe(200);
    secrets.push(secret('the site-wide Jump Client key', legacy.body.key));
    // The backup checks on the primary (signed peer requests both ways).
    await until(
      async () => {
        const s = await b.api.call<{ peerState?: { reachable?: boolean; role?: string } }>(
          'GET',
          '/api/login/failover',
        );
        return s.body.peerState?.reachable === true && s.body.peerState.role === 'primary';
      },
      30_000,
      'the backup to reach the primary',
    );

    // The backup took the primary's site CA: one authority, the same key in both directories.
    const caKey = (t: TestAppliance) =>
      readFileSync(path.join(t.dataDir, 'keys', 'site-ca.pem'), 'utf8');
    expect(caKey(b)).toBe(caKey(a));
    secrets.push(...applianceKeySecrets(a.dataDir, 'A'), ...applianceKeySecrets(b.dataDir, 'B'));

    await Promise.all([a.proc.stop(), b.proc.stop()]);
    await Promise.all([a.proc.outputClosed, b.proc.outputClosed]);
    const written: Written[] = [
      ...writtenByAppliance('appliance A', a.proc.output, a.dataDir),
      ...writtenByAppliance('appliance B', b.proc.output, b.dataDir),
    ];
    // What was searched holds the lines of what was done: the leaks would be among them.
    const all = written.map((w) => w.text).join('\n');
    for (const done of [
      '/api/login/failover/establish',
      '/api/login/security/inter-appliance-key',
      '/api/peer/',
      'failover.established',
      'failover.establish-failed',
      'security.inter_appliance_key.set',
      'appliance.site-ca-adopted',
    ])
      expect(all, done).toContain(done);
    // The log files themselves were written, with the requests made: not only the other texts.
    const logged = [a, b]
      .flatMap((t) => filesUnder(path.join(t.dataDir, 'logs')))
      .map((w) => w.text)
      .join('\n');
    for (const request of [
      '/api/login/failover/establish',
      '/api/login/security/inter-appliance-key',
      '/api/peer/',
    ])
      expect(logged, `${request} in the log files`).toContain(request);
    expect(leaksIn(written, secrets)).toEqual([]);
  }, 120_000);
});
