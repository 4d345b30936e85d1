import { describe, expect, it } from 'vitest';
import { Relay } from './protocol.js';

describe('Relay (where a move sends a client)', () => {
  const good = { node: 'b', host: '198.18.0.2', port: 8443, fingerprint: 'AB:CD' };

  it('takes a usable place and refuses a port net.connect would throw on, naming the field', () => {
    expect(Relay.parse(good)).toEqual(good);
    for (const port of [0, 70_000, 443.5, '443']) {
      const r = Relay.safeParse({ ...good, port });
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]!.path).toEqual(['port']);
    }
    expect(Relay.safeParse({ ...good, host: '' }).error!.issues[0]!.path).toEqual(['host']);
    expect(Relay.safeParse({ ...good, node: undefined }).success).toBe(false);
  });
});
