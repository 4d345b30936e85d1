/**
 * The anchor of the appliance benchmark: a bare Node HTTPS server that does only what the
 * measured operation cannot avoid (TLS, HTTP parsing, reading and parsing a JSON body, writing a
 * JSON answer). It imports nothing but Node built-ins, so its start-up is the floor of any
 * Node HTTPS server's.
 *
 * Environment: ANCHOR_LISTEN (host:port), ANCHOR_TLS_KEY and ANCHOR_TLS_CERT (PEM files),
 * ANCHOR_GET_BODY and ANCHOR_PATCH_BODY (the JSON answered to GET and PATCH on other paths).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const listen = required('ANCHOR_LISTEN');
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
const port = Number(listen.slice(colon + 1));
const getBody = process.env.ANCHOR_GET_BODY ?? '{}';
const patchBody = process.env.ANCHOR_PATCH_BODY ?? '{}';
const healthBody = JSON.stringify({ name: 'anchor', ready: true });

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET') {
    send(res, 200, req.url === '/health' ? healthBody : getBody);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      send(res, 200, patchBody);
    } catch {
      send(res, 400, '{"code":"BODY_NOT_JSON"}');
    }
  });
}

const server = https.createServer(
  {
    key: readFileSync(required('ANCHOR_TLS_KEY')),
    cert: readFileSync(required('ANCHOR_TLS_CERT')),
    minVersion: 'TLSv1.2',
  },
  handle,
);
server.listen(port, host);
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
