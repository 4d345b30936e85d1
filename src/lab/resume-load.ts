import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { listenOnFreePort } from '../shared/ports.js';

/**
 * The two sessions every resumption case runs: a copy (a target sending N bytes, hashed where
 * they leave and where they arrive) and an interactive one (1 KiB echoed every 50 ms, each
 * answer checked byte for byte and in order).
 */
export interface Source {
  address: string;
  /** sha256 and length of what the target sent, once it sent all; rejected if its connection closed first. */
  sent: Promise<{ sha256: string; bytes: number }>;
  close(): Promise<void>;
}

/** A target that sends `bytes` random bytes to the first connection, then ends it. */
export async function startSource(bytes: number): Promise<Source> {
  let done!: (v: { sha256: string; bytes: number }) => void;
  let failed!: (e: Error) => void;
  const sent = new Promise<{ sha256: string; bytes: number }>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  // Rejected only for who awaits it: a case that failed earlier does not also report this.
  sent.catch(() => undefined);
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    const hash = createHash('sha256');
    let left = bytes;
    // Its session ended before the target sent all: said at once, not a wait that never ends.
    socket.on('close', () => {
      if (left > 0)
        failed(
          new Error(
            `the target's connection closed after ${bytes - left} of ${bytes} bytes were written`,
          ),
        );
    });
    const more = () => {
      while (left > 0) {
        const chunk = randomBytes(Math.min(left, 256 * 1024));
        left -= chunk.length;
        hash.update(chunk);
        if (!socket.write(chunk)) return void socket.once('drain', more);
      }
      socket.end();
      done({ sha256: hash.digest('hex'), bytes });
    };
    more();
  });
  const port = await listenOnFreePort(server, '127.0.0.1');
  return {
    address: `127.0.0.1:${port}`,
    sent,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface Received {
  sha256: string;
  bytes: number;
  error?: Error;
}

/** Hash what a session socket delivers until it ends (or fails). */
export function receiveAll(socket: Duplex, onBytes?: (total: number) => void): Promise<Received> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let bytes = 0;
    socket.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      onBytes?.(bytes);
    });
    socket.on('end', () => resolve({ sha256: hash.digest('hex'), bytes }));
    socket.on('error', (error) => resolve({ sha256: '', bytes, error }));
  });
}

export interface Interactive {
  /** Echoes received so far, each one checked. */
  rounds(): number;
  /** Longest wait for an echo, in ms (the pause a user saw). */
  longestWaitMs(): number;
  /** What went wrong: a wrong byte, an error; empty when every echo was right. */
  problems: string[];
  stop(): void;
}

/** Send 1 KiB every 50 ms on an echo session and check every answer, in order. */
export function interactive(socket: Duplex): Interactive {
  const expected: Buffer[] = [];
  let pending = Buffer.alloc(0);
  let rounds = 0;
  let longest = 0;
  let waitingSince: number | undefined;
  const problems: string[] = [];
  socket.on('data', (c: Buffer) => {
    pending = Buffer.concat([pending, c]);
    while (expected.length && pending.length >= expected[0]!.length) {
      const want = expected.shift()!;
      if (!pending.subarray(0, want.length).equals(want))
        problems.push(`echo ${rounds} differs from what was sent`);
      pending = pending.subarray(want.length);
      rounds++;
      if (waitingSince !== undefined) longest = Math.max(longest, Date.now() - waitingSince);
      waitingSince = expected.length ? Date.now() : undefined;
    }
  });
  socket.on('error', (e) => problems.push(`session failed: ${e.message}`));
  const timer = setInterval(() => {
    const chunk = randomBytes(1024);
    expected.push(chunk);
    waitingSince ??= Date.now();
    socket.write(chunk);
  }, 50);
  return {
    rounds: () => rounds,
    longestWaitMs: () =>
      Math.max(longest, waitingSince === undefined ? 0 : Date.now() - waitingSince),
    problems,
    stop: () => {
      clearInterval(timer);
      socket.end();
    },
  };
}
