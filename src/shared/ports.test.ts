import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOnFreePort } from './ports.js';

describe('listenOnFreePort', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  it('leaves a later server error to the server, not swallowed by its listen handler', async () => {
    const server = net.createServer();
    servers.push(server);
    const port = await listenOnFreePort(server, '127.0.0.1');
    expect(port).toBeGreaterThan(0);
    // No 'error' listener of its own: an error after listening is thrown, as Node does.
    expect(() => server.emit('error', new Error('after listening'))).toThrow('after listening');
  });

  it('rejects when the server cannot listen on the host', async () => {
    // 203.0.113.1 (TEST-NET-3) is none of this host's addresses.
    await expect(listenOnFreePort(net.createServer(), '203.0.113.1')).rejects.toThrow(
      /EADDRNOTAVAIL/,
    );
  });
});
