import net, { type LookupFunction } from 'node:net';

/** A connection attempt unanswered this long gets a fresh one beside it (then each period). */
export const REDIAL_MS = 1_000;
/** How long a dial tries in all before it fails (undici's own connect timeout). */
export const DIAL_TIMEOUT_MS = 10_000;

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
 * a session waiting on that client pauses as long. A refused or unreachable address fails at
 * once, as a plain connect does, unless another attempt is still under way.
 */
export function dialTcp(o: DialOptions): Promise<net.Socket> {
  const host = o.host.replace(/^\[(.*)\]$/, '$1');
  const timeoutMs = o.timeoutMs ?? DIAL_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const live = new Set<net.Socket>();
    let settled = false;
    const finish = (winner?: net.Socket, error?: Error) => {
      if (settled) return;
      settled = true;
      clearInterval(redial);
      clearTimeout(deadline);
      for (const s of live) if (s !== winner) s.destroy();
      if (winner) resolve(winner);
      else reject(error!);
    };
    const attempt = () => {
      const socket = net.connect({
        host,
        port: o.port,
        ...(o.lookup ? { lookup: o.lookup } : {}),
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      });
      live.add(socket);
      socket.once('connect', () => finish(socket));
      // Kept on the winner too: an error after the handover is its owner's (a TLS socket over
      // it reads the handle itself), and must not be an unhandled one here.
      socket.on('error', (e) => {
        live.delete(socket);
        if (!live.size) finish(undefined, e);
      });
    };
    const redial = setInterval(attempt, o.redialMs ?? REDIAL_MS);
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
