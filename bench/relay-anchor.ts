/**
 * The anchor of the relay benchmark, the floor of its design: a bare Node TLS server (the
 * appliance's key and certificate) that pipes two connections it accepts into each other, as a
 * relay of sessions with nothing else (no HTTP, no framing, no recording, no records). Node
 * built-ins only.
 *
 * Connections pair by the name they ask for (TLS SNI): `console.<target>` with `jump.<target>`
 * (the bare Jump Client of bench/relay-anchor-jump.ts, which is told it was paired by one byte,
 * then dials the target), and connections without a name with each other (idle pairs held by
 * the benchmark itself).
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

/** What a bare Jump Client's leg reads once it has a console on the other end. */
const PAIRED = 0x47;

const listen = required('ANCHOR_LISTEN');
const colon = listen.lastIndexOf(':');
/** Connections waiting for a partner, by the name they asked for. */
const waiting = new Map<string, tls.TLSSocket[]>();

const partnerOf = (name: string) =>
  name.startsWith('console.')
    ? `jump.${name.slice(8)}`
    : name.startsWith('jump.')
      ? `console.${name.slice(5)}`
      : name;

function pair(socket: tls.TLSSocket): void {
  const name = typeof socket.servername === 'string' ? socket.servername : '';
  const queue = waiting.get(partnerOf(name)) ?? [];
  let other = queue.shift();
  while (other?.destroyed) other = queue.shift();
  if (!other) {
    waiting.set(name, [...(waiting.get(name) ?? []), socket]);
    return;
  }
  const jumpSide = name.startsWith('jump.') ? socket : other.servername ? other : undefined;
  jumpSide?.write(Buffer.of(PAIRED));
  socket.on('close', () => other.destroy());
  other.on('close', () => socket.destroy());
  socket.pipe(other).pipe(socket);
}

const server = tls.createServer(
  {
    key: readFileSync(required('ANCHOR_TLS_KEY')),
    cert: readFileSync(required('ANCHOR_TLS_CERT')),
    minVersion: 'TLSv1.2',
  },
  (socket) => {
    socket.on('error', () => socket.destroy());
    pair(socket);
  },
);
server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon), () =>
  process.stdout.write('listening\n'),
);
process.on('SIGTERM', () => process.exit(0));
