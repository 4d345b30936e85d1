/**
 * A task run again and again, each round after the last one finished (never two at once):
 * `next` says how long to wait before the following round. The timer does not keep the
 * process alive.
 */
export class Repeating {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

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

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.round()
        .catch(() => undefined)
        .finally(() => this.schedule(this.next()));
    }, ms);
    this.timer.unref();
  }
}
