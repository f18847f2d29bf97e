/**
 * A background pass that repeats every `intervalMs` until stopped, for the sweeps every replica runs over the store
 * (expired uploads, due webhook deliveries). The next pass is timed from the end of the last, so two never overlap
 * however slow the store is, and the timer does not keep the process alive.
 */
export class SweepLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private halted = false;

  constructor(
    private readonly pass: () => Promise<unknown>,
    private readonly intervalMs: number,
  ) {}

  /** Starts the loop: the first pass after `firstDelayMs` (the interval by default). */
  start(firstDelayMs = this.intervalMs): void {
    this.schedule(firstDelayMs);
  }

  /** True once `stop()` was called: a pass in progress checks it to end early. */
  get stopped(): boolean {
    return this.halted;
  }

  /** Starts no other pass; settles when the pass in progress, if any, has ended. */
  stop(): Promise<unknown> {
    this.halted = true;
    clearTimeout(this.timer);
    return this.running ?? Promise.resolve();
  }

  private schedule(delayMs: number): void {
    if (this.halted) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => this.schedule(this.intervalMs));
    }, delayMs);
    this.timer.unref();
  }
}
