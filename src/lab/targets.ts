import http from 'node:http';
import net from 'node:net';

/** Local targets a Jump Client opens sessions to: a TCP echo server and an HTTP server. */
export interface Targets {
  echo: string;
  http: string;
  close(): Promise<void>;
}

/** Start both targets on `host` (free ports); close() ends their connections too. */
export async function startTargets(host = '127.0.0.1'): Promise<Targets> {
  const sockets = new Set<net.Socket>();
  const echo = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  const web = http.createServer((req, res) => {
    res.end(`hello from the remote computer: ${req.url}`);
  });
  const listen = (server: net.Server) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
    });
  const [echoPort, httpPort] = await Promise.all([listen(echo), listen(web)]);
  return {
    echo: `${host}:${echoPort}`,
    http: `${host}:${httpPort}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      web.closeAllConnections();
      await Promise.all([new Promise((r) => echo.close(r)), new Promise((r) => web.close(r))]);
    },
  };
}
