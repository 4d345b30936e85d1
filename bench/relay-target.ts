/**
 * The target of the relay benchmark, in its own process (as a remote computer's service would
 * be): an echo server, and a sink that reads a length (u64 BE) and then that many bytes, and
 * answers one byte once all have arrived. Node built-ins only.
 *
 * Prints `echo=PORT sink=PORT` once both listen on TARGET_HOST (default 127.0.0.1).
 */
import net from 'node:net';

const host = process.env.TARGET_HOST ?? '127.0.0.1';

const echo = net.createServer({ noDelay: true }, (s) => {
  s.on('error', () => s.destroy());
  s.pipe(s);
});

const sink = net.createServer({ noDelay: true }, (s) => {
  s.on('error', () => s.destroy());
  let header = Buffer.alloc(0);
  let expected = -1;
  let received = 0;
  s.on('data', (chunk: Buffer) => {
    if (expected < 0) {
      header = Buffer.concat([header, chunk]);
      if (header.length < 8) return;
      expected = Number(header.readBigUInt64BE(0));
      chunk = header.subarray(8);
    }
    received += chunk.length;
    if (received >= expected) s.write(Buffer.of(1));
  });
});

const listen = (server: net.Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port)),
  );

const [echoPort, sinkPort] = await Promise.all([listen(echo), listen(sink)]);
process.stdout.write(`echo=${echoPort} sink=${sinkPort}\n`);
process.on('SIGTERM', () => process.exit(0));
