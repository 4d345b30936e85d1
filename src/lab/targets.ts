import http from 'node:http';
import { startEchoServer } from '../shared/echo-server.js';
import { listenOnFreePort } from '../shared/ports.js';

/** Local targets a Jump Client opens sessions to: a TCP echo server and an HTTP server. */
export interface Targets {
  echo: string;
  http: string;
  close(): Promise<void>;
}

/** Start both targets on `host` (free ports); close() ends their connections too. */
export async function startTargets(host = '127.0.0.1'): Promise<Targets> {
  const web = http.createServer((req, res) => {
    res.end(`hello from the remote computer: ${req.url}`);
  });
  const [echo, httpPort] = await Promise.all([startEchoServer(host), listenOnFreePort(web, host)]);
  return {
    echo: echo.address,
    http: `${host}:${httpPort}`,
    close: async () => {
      web.closeAllConnections();
      await Promise.all([echo.close(), new Promise((r) => web.close(r))]);
    },
  };
}
