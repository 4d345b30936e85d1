import net from 'node:net';
import { listenOnFreePort } from './ports.js';

export interface EchoServer {
  /** `host:port` */
  address: string;
  /** Stop listening and end every connection. */
  close(): Promise<void>;
}

/**
 * A TCP echo server on a free port of `host`: the target of a session that proves bytes go
 * through and come back (the lab's targets, the orchestrator's probe sessions).
 */
export async function startEchoServer(host = '127.0.0.1'): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  const port = await listenOnFreePort(server, host);
  return {
    address: `${host}:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
