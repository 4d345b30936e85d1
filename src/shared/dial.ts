import net, { type LookupFunction } from 'node:net';
import { jittered } from './jitter.js';

/** A connection attempt unanswered this long gets a fresh one beside it (then each period). */
export const REDIAL_MS = 1_000;
/** How long a dial tries in all before it fails (undici's own connect timeout). */
export const DIAL_TIMEOUT_MS = 10_000;
/**
 * Attempts alive at once: when the address comes back every pending SYN completes, and the
 * server would accept (then see reset) one connection per attempt from each client.
 */
export const MAX_LIVE_ATTEMPTS = 2;

export interface DialOptions {
  host: string;
  port: number;
  lookup?: LookupFunction;
  localAddress?: string;
  timeoutMs?: number;
  redialMs?: number;
}

/**
 * Open a TCP connection with staggered attempts (as RFC 8305 staggers them): an attempt whose
 * SYN has no answer after `redialMs` gets a fresh one beside it, and so on; the first to connect
 * wins and the others are closed. TCP alone sends a SYN again only 1 s, then 3 s and 7 s after
 * the first: a client that dials a site address in the moment it moves between appliances
 * (held by neither, so the SYN is lost) would connect up to 3 s after the address is back, and
 * a session waiting on that client pauses as long. At most MAX_LIVE_ATTEMPTS are alive (the
 * oldest is dropped for a new one), and the period is jittered so clients do not beat in step.
 * A refused or unreachable address fails at once, as a plain connect does, unless another
 * attempt is still under way; a bad port or local address fails at once too.
 */
export function dialTcp(o: DialOptions): Promise<net.Socket> {
  const host = o.host.replace(/^\[(.*)\]$/, '$1');
  const timeoutMs = o.timeoutMs ?? DIAL_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const live = new Set<net.Socket>();
    let settled = false;
    let redial: NodeJS.Timeout | undefined;
    const finish = (winner?: net.Socket, error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(redial);
      clearTimeout(deadline);
      for (const s of live) if (s !== winner) s.destroy();
      if (winner) resolve(winner);
      else reject(error!);
    };
    const attempt = () => {
      // net.connect throws synchronously on a bad port or local address: fail the dial, not
      // the process (a throw in a timer callback is an uncaught exception).
      try {
        open();
      } catch (e) {
        return finish(undefined, e as Error);
      }
      redial = setTimeout(attempt, jittered(o.redialMs ?? REDIAL_MS));
    };
    const open = () => {
      if (live.size >= MAX_LIVE_ATTEMPTS) {
        const oldest = live.values().next().value as net.Socket;
        live.delete(oldest);
        oldest.destroy();
      }
      const socket = net.connect({
        host,
        port: o.port,
        ...(o.lookup ? { lookup: o.lookup } : {}),
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      });
      live.add(socket);
      socket.once('connect', () => finish(socket));
      // Kept on the winner on purpose: its owner wraps it in TLS, which reads the handle itself
      // and reports errors on the TLS socket; an error the plain socket still emits after the
      // hand-over must not be an unhandled one (it would kill the process). Before the
      // hand-over it fails the dial once no attempt is left.
      socket.on('error', (e) => {
        live.delete(socket);
        if (!live.size) finish(undefined, e);
      });
    };
    const deadline = setTimeout(
      () =>
        finish(
          undefined,
          Object.assign(new Error(`connect ETIMEDOUT ${host}:${o.port}`), { code: 'ETIMEDOUT' }),
        ),
      timeoutMs,
    );
    attempt();
  });
}
