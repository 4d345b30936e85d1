/**
 * A task run again and again, each round after the last one finished (never two at once):
 * `next` says how long to wait before the following round. The timer does not keep the
 * process alive.
 */
export class Repeating {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Between rounds (the timer set), not in one. */
  private waiting = false;

  constructor(
    private readonly round: () => Promise<void>,
    private readonly next: () => number,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /**
   * Run the next round now rather than when `next` said before (what it depends on changed);
   * a round under way is not doubled: the one after it asks `next` again anyway.
   */
  now(): void {
    if (!this.running || !this.waiting) return;
    clearTimeout(this.timer);
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.waiting = true;
    this.timer = setTimeout(() => {
      this.waiting = false;
      this.round()
        .catch(() => undefined)
        .finally(() => this.schedule(this.next()));
    }, ms);
    this.timer.unref();
  }
}
