import { describe, expect, it } from 'vitest';
import { checkAnswer, proveAnswer, signPeerRequest, verifyPeerRequest } from './peer-auth.js';

const KEY = 'k'.repeat(40);
const req = { method: 'POST', path: '/api/peer/hello', body: '{"a":1}' };

describe('inter-appliance request proofs', () => {
  it('accepts a request signed with the same key, once', () => {
    const { header, nonce } = signPeerRequest(KEY, 'appliance-a', req);
    expect(verifyPeerRequest(KEY, header, req)).toEqual({ from: 'appliance-a', nonce });
    expect(() => verifyPeerRequest(KEY, header, req)).toThrow(/already used/);
  });

  it('refuses another key, another body, a stale time and a missing header', () => {
    const { header } = signPeerRequest('x'.repeat(40), 'appliance-a', req);
    expect(() => verifyPeerRequest(KEY, header, req)).toThrow(/different Inter-Appliance keys/);
    const ok = signPeerRequest(KEY, 'appliance-a', req).header;
    expect(() => verifyPeerRequest(KEY, ok, { ...req, body: '{"a":2}' })).toThrow(/different/);
    const old = signPeerRequest(KEY, 'appliance-a', req, Date.now() - 120_000).header;
    expect(() => verifyPeerRequest(KEY, old, req)).toThrow(/clock/);
    expect(() => verifyPeerRequest(KEY, undefined, req)).toThrow(
      /signed with the Inter-Appliance key/,
    );
  });

  it('refuses a request signed before this process started: its nonce may have been seen by the last one', () => {
    // Within the clock window, but older than this process: after a restart, a captured request.
    const captured = signPeerRequest(KEY, 'appliance-a', req, Date.now() - 30_000).header;
    expect(() => verifyPeerRequest(KEY, captured, req)).toThrow(
      /signed before this appliance started/,
    );
  });

  it('binds an answer to the request nonce and body', () => {
    const proof = proveAnswer(KEY, 'n1', 200, '{"ok":true}');
    expect(() => checkAnswer(KEY, 'n1', 200, '{"ok":true}', proof, 'peer')).not.toThrow();
    expect(() => checkAnswer(KEY, 'n2', 200, '{"ok":true}', proof, 'peer')).toThrow();
    expect(() => checkAnswer('y'.repeat(40), 'n1', 200, '{"ok":true}', proof, 'peer')).toThrow(
      /could not prove/,
    );
    expect(() => checkAnswer(KEY, 'n1', 200, '{"ok":true}', undefined, 'peer')).toThrow();
  });
});
