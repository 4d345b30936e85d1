const ABORTED = 'the fetch of rows ended early';
export const isAborted = (e: unknown) => e instanceof Error && e.message === ABORTED;

/**
 * The blobs still to fetch, named as rows arrive (filtered to the missing ones), taken by the
 * bulk requests `size` at a time; a short batch only once no more are coming.
 */
export class BlobFeed {
  /** Which of the named blobs are to be fetched (set by the fetcher). */
  filter: (shas: string[]) => Promise<string[]> = async (shas) => shas;
  ended = false;
  private readonly queue: string[] = [];
  private filtering: Promise<void> = Promise.resolve();
  private failed: unknown;
  private wake: (() => void) | undefined;

  constructor(private readonly size: number) {}

  push(shas: string[]): void {
    if (!shas.length) return;
    this.filtering = this.filtering.then(async () => {
      try {
        this.queue.push(...(await this.filter(shas)));
      } catch (e) {
        this.failed ??= e;
      }
      this.notify();
    });
  }

  /** No more names: what is queued goes, then the requests finish. */
  end(): void {
    void this.filtering.then(() => {
      this.ended = true;
      this.notify();
    });
  }

  /** Stop: every request waiting or asking next fails with `e`. */
  abort(e: unknown = new Error(ABORTED)): void {
    this.failed ??= e;
    this.ended = true;
    this.notify();
  }

  /** The next batch to request; undefined once the feed ended and is empty. */
  async next(): Promise<string[] | undefined> {
    for (;;) {
      if (this.failed !== undefined) throw this.failed;
      if (this.queue.length >= this.size || (this.ended && this.queue.length))
        return this.queue.splice(0, this.size);
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        const before = this.wake;
        this.wake = () => {
          before?.();
          resolve();
        };
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
