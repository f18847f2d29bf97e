import type { ClaimedEntry, DueIndex, DueRef } from "./due-index";

/** What became of a claimed entry: done (removed), or due again later (rescheduled, with a new payload if given). */
export type DueOutcome<P> = { done: true } | { retryAt: number; payload?: P };

export interface DueWorkerOptions {
  /** How long a claim holds an entry: longer than the work can take, or another replica does it too. */
  leaseMs: number;
  /** Entries worked on at once by this process. */
  concurrency: number;
  /** Keys one poll lists: the most entries one poll works on. */
  pageSize: number;
  /** Told of work that threw (its entry stays leased, and is claimed again once the lease runs out). */
  onError: (entry: DueRef, error: unknown) => void;
}

/**
 * Works through the due entries of one kind: each poll is one LIST of the earliest keys of the kind, then a claim and
 * the handler for each one due. Idle, a poll costs that one request, whatever the number of projects. Handlers must
 * be safe to run twice (a process dying mid-work leaves its lease to run out, and the work is claimed again).
 */
export class DueWorker<P> {
  /** Entries this process works on now: another poll does not claim them again. */
  private readonly working = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly index: DueIndex,
    readonly kind: string,
    private readonly handle: (entry: ClaimedEntry<P>) => Promise<DueOutcome<P>>,
    private readonly options: DueWorkerOptions,
  ) {}

  /**
   * One poll: lists the kind's earliest entries, works on those due (`concurrency` at a time) and settles when they
   * are done; `stopped` ends it early. Answers how many entries it worked on.
   */
  async poll(stopped: () => boolean = () => false): Promise<number> {
    const refs = (await this.index.due(this.kind, this.options.pageSize)).filter((r) => !this.working.has(r.key));
    let worked = 0;
    const workers = Array.from({ length: this.options.concurrency }, async () => {
      for (let ref = refs.shift(); ref !== undefined && !stopped(); ref = refs.shift()) {
        if (await this.work(ref)) worked++;
      }
    });
    await Promise.all(workers);
    return worked;
  }

  /** Works on one entry now, in the background (a delivery just recorded); `settled` waits for it. */
  runNow(ref: DueRef): void {
    const running = this.work(ref).then(() => undefined);
    this.inFlight.add(running);
    void running.finally(() => this.inFlight.delete(running));
  }

  /** Settles when the work started by `runNow` has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /** Claims the entry, runs the handler, and removes or reschedules it; false when it could not be claimed. */
  private async work(ref: DueRef): Promise<boolean> {
    if (this.working.has(ref.key)) return false;
    this.working.add(ref.key);
    try {
      const claimed = await this.index.claim<P>(ref, this.options.leaseMs);
      if (!claimed) return false;
      const outcome = await this.handle(claimed);
      if ("done" in outcome) await this.index.remove(claimed);
      else await this.index.reschedule(claimed, outcome.retryAt, outcome.payload);
      return true;
    } catch (error) {
      this.options.onError(ref, error);
      return false;
    } finally {
      this.working.delete(ref.key);
    }
  }
}
