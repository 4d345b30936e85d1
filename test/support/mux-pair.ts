import { once } from 'node:events';
import net from 'node:net';
import { MuxConnection, type MuxStream } from '../../src/sessions/mux.js';

/**
 * Both ends of a real loopback TCP connection and its listener; `clientHighWaterMark`: a client
 * socket that takes more before write() says wait (default: a socket's 16 KiB).
 */
export async function loopbackPair(clientHighWaterMark?: number) {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const socket = net.connect({
    port: (server.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    ...(clientHighWaterMark && { writableHighWaterMark: clientHighWaterMark }),
  });
  const [serverSocket] = await accepted;
  return { server, socket, serverSocket };
}

/**
 * A client and an appliance side of a MuxConnection over a real loopback TCP connection, for
 * the unit tests of the multiplexer and of what runs over it. Streams the appliance side is
 * asked to open get an error listener (a connection closed at a test's end fails them, as it
 * would a socket); `onCleanup` receives what closes both sides and the listener.
 */
export async function muxPair<R = unknown>(
  onOpen: (request: R, stream: MuxStream) => void,
  onCleanup: (close: () => void) => void,
  options: { allowHalfOpen?: boolean; clientHighWaterMark?: number } = {},
) {
  const { server, socket, serverSocket } = await loopbackPair(options.clientHighWaterMark);
  const client = new MuxConnection(socket, { allowHalfOpen: options.allowHalfOpen });
  const appliance = new MuxConnection(serverSocket, {
    allowHalfOpen: options.allowHalfOpen,
    onOpen: (request, stream) => {
      stream.on('error', () => undefined);
      onOpen(request as R, stream);
    },
  });
  onCleanup(() => {
    client.close();
    appliance.close();
    server.close();
  });
  return { client, appliance, socket, serverSocket };
}
