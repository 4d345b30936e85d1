import dgram from 'node:dgram';
import net from 'node:net';
import { trafficError } from '../switch-config.js';
import { isTruncated } from './wire.js';
import { trafficErrors } from '../error-codes.js';

export interface DnsServer {
  host: string;
  port: number;
  timeoutMs: number;
}

const where = (s: DnsServer) => `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;

function timeout(server: DnsServer, transport: string) {
  return trafficError(
    trafficErrors.TRAFFIC_DNS_UNREACHABLE,
    `server: no answer from the DNS server ${where(server)} over ${transport} within ${server.timeoutMs} ms; check the server address and port and that a firewall lets DNS through.`,
    { field: 'server', status: 504 },
  );
}

function unreachable(server: DnsServer, transport: string, err: Error) {
  return trafficError(
    trafficErrors.TRAFFIC_DNS_UNREACHABLE,
    `server: cannot reach the DNS server ${where(server)} over ${transport} (${(err as NodeJS.ErrnoException).code ?? err.message}); check the server address and port.`,
    { field: 'server', cause: err },
  );
}

/** One exchange over UDP; retried once when no answer came within half the time. */
function overUdp(server: DnsServer, message: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const id = message.readUInt16BE(0);
    let retried = false;
    const finish = (err: Error | undefined, answer?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const send = () =>
      socket.send(message, server.port, server.host, (err) => {
        if (err)
          finish(
            trafficError(
              trafficErrors.TRAFFIC_DNS_UNREACHABLE,
              `server: cannot send to the DNS server ${where(server)} (${(err as NodeJS.ErrnoException).code ?? err.message}); check the server name and address.`,
              { field: 'server', cause: err },
            ),
          );
      });
    let timer = setTimeout(function again() {
      if (retried) return finish(timeout(server, 'UDP'));
      retried = true;
      send();
      timer = setTimeout(again, server.timeoutMs / 2);
    }, server.timeoutMs / 2);
    socket.on('message', (answer) => {
      if (answer.length >= 12 && answer.readUInt16BE(0) === id) finish(undefined, answer);
    });
    socket.on('error', (err) => finish(unreachable(server, 'UDP', err)));
    send();
  });
}

/** One exchange over TCP: each message is preceded by its length (RFC 1035 §4.2.2). */
function overTcp(server: DnsServer, message: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    const finish = (err: Error | undefined, answer?: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(timeout(server, 'TCP')), server.timeoutMs);
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(message.length);
      socket.write(Buffer.concat([len, message]));
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0))
        finish(undefined, received.subarray(2, 2 + received.readUInt16BE(0)));
    });
    socket.on('error', (err) => finish(unreachable(server, 'TCP', err)));
    socket.on('end', () =>
      finish(
        trafficError(
          trafficErrors.TRAFFIC_DNS_BAD_ANSWER,
          `The DNS server ${where(server)} closed the TCP connection without a complete answer.`,
        ),
      ),
    );
  });
}

/** Send a DNS message and return the answer: UDP first, TCP when the answer is truncated. */
export async function exchange(server: DnsServer, message: Buffer): Promise<Buffer> {
  if (message.length > 512) return overTcp(server, message);
  const answer = await overUdp(server, message);
  return isTruncated(answer.readUInt16BE(2)) ? overTcp(server, message) : answer;
}
