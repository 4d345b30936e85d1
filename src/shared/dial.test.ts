import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dialTcp } from './dial.js';

/**
 * A listener that takes one connection into its accept queue and never accepts it: the kernel
 * then answers no further SYN to it, as no one answers a site address between two holders.
 */
const HELD_LISTENER = `
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
print(s.getsockname()[1], flush=True)
time.sleep(60)
`;

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill();
  child = undefined;
});

async function heldListener(): Promise<number> {
  child = spawn('python3', ['-c', HELD_LISTENER]);
  const port = await new Promise<number>((resolve, reject) => {
    child!.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child!.once('error', reject);
  });
  const filler = net.connect({ host: '127.0.0.1', port });
  filler.on('error', () => undefined); // reset when the listener goes
  await new Promise((r) => filler.once('connect', r));
  return port;
}

describe('dialTcp', () => {
  it('connects, and fails at once on a refused port (no second attempt waited for)', async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const s = await dialTcp({ host: '127.0.0.1', port });
    expect(s.remotePort).toBe(port);
    s.destroy();
    await new Promise((r) => server.close(r));
    const t0 = Date.now();
    await expect(dialTcp({ host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(Date.now() - t0).toBeLessThan(900);
  });

  it('gives up after its timeout when no attempt is answered', async () => {
    const port = await heldListener();
    const t0 = Date.now();
    await expect(
      dialTcp({ host: '127.0.0.1', port, timeoutMs: 1_200, redialMs: 400 }),
    ).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_150);
  });
});
