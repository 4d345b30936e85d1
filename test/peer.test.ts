import { describe, expect, it } from 'vitest';
import { fetchPeerFingerprint, PeerClient } from '../src/failover/peer-client.js';
import { startTestAppliance } from './support/appliance.js';

const KEY_A = 'shared-inter-appliance-key-0123456789abcdef';

describe('inter-appliance requests between two real appliances', () => {
  it('pins the peer certificate, proves the key both ways, and names a key mismatch', async () => {
    const a = await startTestAppliance({
      name: 'peer-a',
      host: '127.0.0.21',
      interApplianceKey: KEY_A,
    });
    const b = await startTestAppliance({
      name: 'peer-b',
      host: '127.0.0.22',
      interApplianceKey: KEY_A,
    });
    const address = { host: b.proc.host, port: b.proc.port };
    const fingerprint = await fetchPeerFingerprint(address);
    expect(fingerprint).toBe(b.proc.fingerprint);

    const client = new PeerClient(address, fingerprint, () => KEY_A, 'peer-a');
    try {
      const hello = await client.call<{ name: string; productVersion: string }>(
        'POST',
        '/api/peer/hello',
        {},
      );
      expect(hello.name).toBe('peer-b');

      const wrong = new PeerClient(
        address,
        fingerprint,
        () => 'another-key-that-does-not-match-0000000',
        'peer-a',
      );
      await expect(wrong.call('POST', '/api/peer/hello', {})).rejects.toMatchObject({
        code: 'FAILOVER_KEY_MISMATCH',
      });
      await wrong.close();

      const impostor = new PeerClient(address, a.proc.fingerprint, () => KEY_A, 'peer-a');
      await expect(impostor.call('POST', '/api/peer/hello', {})).rejects.toMatchObject({
        code: 'TLS_FINGERPRINT_MISMATCH',
      });
      await impostor.close();

      // Without a signature the endpoint refuses; no session or key is accepted instead.
      const anon = await b.anon.call<{ code: string }>('POST', '/api/peer/hello', { json: {} });
      expect(anon.status).toBe(401);
      expect(anon.body.code).toBe('PEER_AUTH_REQUIRED');
    } finally {
      await client.close();
    }
    await expect(fetchPeerFingerprint({ host: '127.0.0.22', port: 1 })).rejects.toMatchObject({
      code: 'FAILOVER_PEER_UNREACHABLE',
    });
  });
});
