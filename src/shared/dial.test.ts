import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dialTcp, MAX_LIVE_ATTEMPTS } from './dial.js';

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

  it('fails a bad port at once and leaves no timer behind to throw later', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await expect(dialTcp({ host: '127.0.0.1', port: 70_000, redialMs: 20 })).rejects.toMatchObject({
      code: 'ERR_SOCKET_BAD_PORT',
    });
    // A redial timer left running would call net.connect again: an uncaught exception.
    expect(timers()).toBe(before);
  });

  it('keeps at most MAX_LIVE_ATTEMPTS attempts alive while none is answered', async () => {
    const port = await heldListener();
    const sockets = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    let done = false;
    // Settled to its error at once: a rejection awaited only after the loop is unhandled.
    const dial = dialTcp({ host: '127.0.0.1', port, timeoutMs: 600, redialMs: 40 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    void dial.finally(() => (done = true));
    let most = 0;
    while (!done) {
      most = Math.max(most, sockets() - before);
      await new Promise((r) => setImmediate(r));
    }
    expect(await dial).toMatchObject({ code: 'ETIMEDOUT' });
    // Uncapped, 600/40 ms would keep ~15 alive; a dropped attempt's handle may still be
    // closing for one turn of the loop beside its replacement, hence the one extra.
    expect(most).toBeGreaterThanOrEqual(MAX_LIVE_ATTEMPTS);
    expect(most).toBeLessThanOrEqual(MAX_LIVE_ATTEMPTS + 1);
  });
});
