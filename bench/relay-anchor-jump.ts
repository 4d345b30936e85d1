/**
 * The bare Jump Client of the relay benchmark's anchor (bench/relay-anchor.ts): a process of its
 * own, as `gatehouse jump-client` is, that keeps one TLS leg per target waiting at the anchor;
 * once the anchor pairs a leg with a console, it dials the target, pipes the two and opens the
 * next waiting leg. No framing, no multiplexing: one TLS connection per session.
 *
 * Environment: ANCHOR_CONNECT (the anchor's host:port), ANCHOR_TARGETS (`name=host:port,...`).
 * Prints `ready` once a leg per target waits.
 */
import net from 'node:net';
import tls from 'node:tls';

const split = (hostPort: string) => {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
};
const anchor = split(process.env.ANCHOR_CONNECT ?? '');
const targets = (process.env.ANCHOR_TARGETS ?? '').split(',').map((t) => t.split('='));

/** One leg waiting at the anchor for `name`; resolves once the anchor has it. */
function leg(name: string, target: string): Promise<void> {
  const s = tls.connect({ ...anchor, servername: `jump.${name}`, rejectUnauthorized: false });
  s.on('error', () => s.destroy());
  s.once('data', (first: Buffer) => {
    s.pause();
    void leg(name, target);
    const t = net.connect({ ...split(target), noDelay: true });
    t.on('error', () => t.destroy());
    t.on('close', () => s.destroy());
    s.on('close', () => t.destroy());
    t.once('connect', () => {
      if (first.length > 1) t.write(first.subarray(1));
      s.pipe(t).pipe(s);
    });
  });
  return new Promise((resolve) => s.once('secureConnect', () => resolve()));
}

await Promise.all(targets.map(([name, target]) => leg(name!, target!)));
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
