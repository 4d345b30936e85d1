import net from 'node:net';

/** The copy and interactive sessions of the resumption cases, shared with the benchmark. */
export {
  interactive,
  receiveAll,
  startSource,
  type Interactive,
  type Received,
  type Source,
} from '../../src/lab/resume-load.js';

export interface HalfCloseTarget {
  address: string;
  /** What each connection sent before its end (its FIN), in the order they ended. */
  ended: string[];
  /** Connections whose socket closed. */
  closed(): number;
  close(): Promise<void>;
}

/**
 * A target that answers only after the client's end: it reads until the FIN, then sends
 * `answer to <what it read>` and ends its own side. A relay that does not carry a half-close
 * (or closes the session at the first FIN) loses the answer or never ends.
 */
export async function startHalfCloseTarget(): Promise<HalfCloseTarget> {
  const ended: string[] = [];
  let closed = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy());
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('end', () => {
      ended.push(text);
      s.end(`answer to ${text}`);
    });
    s.on('close', () => closed++);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    ended,
    closed: () => closed,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
