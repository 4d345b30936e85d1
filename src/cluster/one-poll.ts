/**
 * At most one poll of a node in flight. Polls overlapped before (the 1 s interval, the session
 * start's refresh every 50 ms, Accepting's own poll), and one answered late overwrote what a
 * later one had found (a stale Jump Client list, a node barred from new clients for good).
 * A caller while one runs gets the next poll, begun when that one ends and shared by all who
 * ask meanwhile: it reads the node's setting as it is then, not as it was.
 */
export class OnePoll {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  run(poll: () => Promise<void>): Promise<void> {
    if (this.next) return this.next;
    if (!this.running) return this.start(poll);
    const after = () => {
      this.next = undefined;
      return this.start(poll);
    };
    return (this.next = this.running.then(after, after));
  }

  private start(poll: () => Promise<void>): Promise<void> {
    const p = poll().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}

/** Wait for `p`, or `ms` at most: true when `p` ended in time (its failure is the caller's). */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>(
    (resolve) => (timer = setTimeout(resolve, Math.max(0, ms), false)),
  );
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
