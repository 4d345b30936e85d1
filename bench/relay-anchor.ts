/**
 * The idle-session anchor of the relay benchmark: a bare Node TLS server (the appliance's key
 * and certificate) that pipes each two connections it accepts into each other, as a relay of
 * sessions with nothing else (no HTTP, no recording, no records). Node built-ins only.
 *
 * Environment: ANCHOR_LISTEN (host:port), ANCHOR_TLS_KEY and ANCHOR_TLS_CERT (PEM files).
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const listen = required('ANCHOR_LISTEN');
const colon = listen.lastIndexOf(':');
let waiting: tls.TLSSocket | undefined;

const server = tls.createServer(
  {
    key: readFileSync(required('ANCHOR_TLS_KEY')),
    cert: readFileSync(required('ANCHOR_TLS_CERT')),
    minVersion: 'TLSv1.2',
  },
  (socket) => {
    socket.on('error', () => socket.destroy());
    const other = waiting;
    if (!other || other.destroyed) {
      waiting = socket;
      return;
    }
    waiting = undefined;
    socket.pipe(other).pipe(socket);
  },
);
server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon), () =>
  process.stdout.write('listening\n'),
);
process.on('SIGTERM', () => process.exit(0));
