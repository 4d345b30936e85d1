import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFingerprint, generateSelfSignedCertificate } from '../shared/tls.js';
import { PeerClient } from './peer-client.js';

describe('a call to a peer that hangs', () => {
  // A real TLS peer that takes the request and never answers: a hung appliance, its
  // connection still open.
  let server: tls.Server;
  let client: PeerClient;
  const sockets = new Set<tls.TLSSocket>();

  beforeAll(async () => {
    const m = await generateSelfSignedCertificate({
      commonName: 'hung',
      dnsNames: [],
      ipAddresses: ['127.0.0.1'],
    });
    server = tls.createServer({ key: m.keyPem, cert: m.certPem }, (s) => {
      sockets.add(s);
      s.on('data', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    client = new PeerClient(
      { host: '127.0.0.1', port },
      certificateFingerprint(m.certPem),
      () => 'k'.repeat(32),
      'primary',
    );
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await client.close();
    await new Promise((r) => server.close(r));
  });

  it('gives up after its timeout with an error naming the peer, while a call without one still waits', async () => {
    let untimedSettled = false;
    const untimed = client.call('POST', '/api/peer/sync/run', {}).finally(() => {
      untimedSettled = true;
    });
    untimed.catch(() => undefined);
    const t = Date.now();
    const err = await client.call('GET', '/api/peer/cluster/status', undefined, 300).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    const took = Date.now() - t;
    expect(err?.code).toBe('FAILOVER_PEER_UNREACHABLE');
    expect(err?.message).toContain('no answer within 300 ms');
    expect(err?.message).toContain('127.0.0.1');
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(5_000);
    // The long call (a sync may take minutes) is not cut by the short one's limit.
    expect(untimedSettled).toBe(false);
  });
});
