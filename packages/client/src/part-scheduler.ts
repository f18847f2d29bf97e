import { whileOffline } from "./connectivity";

/** One attempt of a part in flight: its signal aborts when the upload is cancelled or fails. */
export interface PartAttempt {
  readonly controller: AbortController;
  /** Call once the attempt has settled. */
  release(): void;
}

/**
 * Runs the parts of an upload: a queue worked by `concurrency` workers, pause and resume (the parts in flight finish,
 * no other starts), a wait while the browser is offline, and the attempts in flight, all aborted when the upload is
 * cancelled or one part fails it. It knows nothing of what a part is sent to: that is the transfer's and the sender's.
 */
export class PartScheduler {
  paused = false;
  private pauseWaiters: (() => void)[] = [];
  private readonly inFlight = new Map<number, AbortController>();

  constructor(private readonly signal: AbortSignal) {}

  pause(): void {
    // Parts in flight go on: aborting them would throw their bytes away and send them again after resume().
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const waiters = this.pauseWaiters;
    this.pauseWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Waits while paused or offline; what is sent after it is a new PUT (a part's first attempt, or a retry). */
  async whilePaused(): Promise<void> {
    for (;;) {
      if (this.signal.aborted) throw this.signal.reason;
      await whileOffline(this.signal);
      if (!this.paused) return;
      await new Promise<void>((resolve) => {
        this.pauseWaiters.push(resolve);
        this.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }

  /** Registers an attempt of a part, aborted with the upload (cancel, or another part failing it). */
  attempt(partNumber: number): PartAttempt {
    const controller = new AbortController();
    this.inFlight.set(partNumber, controller);
    const onCancel = () => controller.abort(this.signal.reason);
    this.signal.addEventListener("abort", onCancel, { once: true });
    return {
      controller,
      release: () => {
        this.inFlight.delete(partNumber);
        this.signal.removeEventListener("abort", onCancel);
      },
    };
  }

  /** Aborts every attempt in flight. */
  abortAll(reason: unknown): void {
    for (const controller of this.inFlight.values()) controller.abort(reason);
  }

  /**
   * Sends the parts of `queue`, `concurrency` at a time, each by `send` (which is told the parts next in line, to
   * prepare them). One failed part fails them all: the others are stopped rather than kept sending for nothing.
   */
  async run(queue: number[], concurrency: number, send: (partNumber: number, next: number[]) => Promise<void>) {
    const workers = Math.min(concurrency, Math.max(1, queue.length));
    const work = async () => {
      for (;;) {
        await this.whilePaused();
        const partNumber = queue.shift();
        if (partNumber === undefined) return;
        await send(partNumber, queue.slice(0, workers));
      }
    };
    await Promise.all(
      Array.from({ length: workers }, () =>
        work().catch((error: unknown) => {
          queue.length = 0;
          this.abortAll(error);
          throw error;
        }),
      ),
    );
  }
}
