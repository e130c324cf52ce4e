/**
 * How long the page's main thread was blocked: a 50 ms timer that measures how late it fires. Training
 * runs in a worker, so this stays small; a page that froze would show it here.
 */
const TICK_MS = 50;

export class StallMeter {
  private timer: ReturnType<typeof setInterval> | null = null;
  private last = 0;
  private longest = 0;

  constructor(private readonly show: (longestMs: number) => void) {}

  start(): void {
    this.stop();
    this.longest = 0;
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.longest = Math.max(this.longest, now - this.last - TICK_MS);
      this.last = now;
      this.show(this.longest);
    }, TICK_MS);
  }

  /** Stops measuring; returns the longest stall seen since start(). */
  stop(): number {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    return Math.max(0, this.longest);
  }
}
