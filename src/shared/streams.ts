import type { Readable, Writable } from 'node:stream';

/**
 * Writes to `stream` made in one tick leave together: one writev, so one system call (and for
 * TLS one encryption pass) instead of one per chunk. Returns `hold`, called before each write.
 * A relayed stream arrives as 16 KiB TLS records, several per read, so without this every
 * record went out in a system call of its own, which cost more than encrypting it.
 */
export function tickCorker(stream: Writable): () => void {
  let corked = false;
  const release = () => {
    corked = false;
    stream.uncork();
  };
  return () => {
    if (corked) return;
    corked = true;
    stream.cork();
    process.nextTick(release);
  };
}

/** `from.pipe(to)`, with the chunks of one tick written to `to` together (see tickCorker). */
export function pipeByTick(from: Readable, to: Writable): void {
  // Registered before pipe's own listener, so the stream is corked before pipe writes.
  from.on('data', tickCorker(to));
  from.pipe(to);
}
