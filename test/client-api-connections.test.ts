import https from 'node:https';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startTestAppliance } from './support/appliance.js';

const BODY = JSON.stringify({ username: 'nobody', password: 'wrong', version: '1.0.0' });

/** A console's call to the clients' API: the answer's headers and the connection it went on. */
function call(
  agent: https.Agent,
  host: string,
  port: number,
  whileInFlight?: () => Promise<unknown>,
): Promise<{ socket: Socket; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host,
      port,
      agent,
      method: 'POST',
      path: '/api/client/console/sign-in',
      rejectUnauthorized: false,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(BODY),
        // The appliance answers 100 once it has the request (and counts it in flight): the
        // body is held back until then, so the request is in flight for certain.
        ...(whileInFlight ? { expect: '100-continue' } : {}),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res
        .resume()
        .on('end', () => resolve({ socket: req.socket!, connection: res.headers.connection }));
    });
    if (!whileInFlight) return void req.end(BODY);
    req.on('continue', () => {
      whileInFlight().then(() => req.end(BODY), reject);
    });
  });
}

describe("consoles' kept-alive connections to the clients' API when the clients move", () => {
  it('closes a connection with a call in flight after its answer: the next call connects afresh', async () => {
    const t = await startTestAppliance({ name: 'api-connections' });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { host, port } = t.proc;
      const first = await call(agent, host, port);
      expect(first.connection).not.toBe('close');
      // The same kept-alive connection carries a call still in flight when the clients move.
      const busy = await call(agent, host, port, () =>
        t.api.call('POST', '/api/login/status/clients/reconnect'),
      );
      expect(busy.socket).toBe(first.socket);
      expect(busy.connection).toBe('close');
      const next = await call(agent, host, port);
      expect(next.socket).not.toBe(first.socket);
      expect(next.connection).not.toBe('close');
    } finally {
      agent.destroy();
    }
  }, 60_000);
});
