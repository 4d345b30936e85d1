import net from 'node:net';
import { splitTarget } from '../sessions/protocol.js';

/** How long a Jump Client waits for its local target to answer a connection. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Connect to a Jump Client's local target (host:port) for a session: the socket, or why not
 * (an errno code such as ECONNREFUSED, or "no answer within 5 s"), which the site is told.
 */
export async function connectTarget(
  target: string,
): Promise<{ socket: net.Socket } | { reason: string }> {
  const { host, port } = splitTarget(target);
  const socket = net.connect({ host, port, noDelay: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => reject(new Error('no answer within 5 s')));
    });
    socket.setTimeout(0);
    return { socket };
  } catch (e) {
    socket.destroy();
    const err = e as NodeJS.ErrnoException;
    return { reason: err.code ?? err.message };
  }
}
