import { dueKey, parseDueKey, type ClaimedEntry, type DueIndex, type DueRef } from "./due-index";
import { SweepLoop } from "./sweep-loop";

/** A timer may fire a little before its time; the entry is not claimed before it is due. */
const TIMER_MARGIN_MS = 5;

/** What became of a claimed entry: done (removed), or due again later (rescheduled, with a new payload if given). */
export type DueOutcome<P> = { done: true } | { retryAt: number; payload?: P };

export interface DueWorkerOptions<P> {
  /**
   * How long a claim holds an entry: longer than the work can take, or another replica does it too. A function gets
   * the entry's payload (work whose length depends on it).
   */
  leaseMs: number | ((payload: P | undefined) => number);
  /** Entries worked on at once by this process. */
  concurrency: number;
  /** Keys one poll lists: the most entries one poll works on. */
  pageSize: number;
  /** Told of work that threw (its entry stays leased, and is claimed again once the lease runs out). */
  onError: (entry: DueRef, error: unknown) => void;
  /** Told of a poll that failed (the store): the next one comes an interval later. */
  onPollError?: (error: unknown) => void;
}

/**
 * Works through the due entries of one kind: each poll is one LIST of the earliest keys of the kind, then a claim and
 * the handler for each one due. Idle, a poll costs that one request, whatever the number of projects. Handlers must
 * be safe to run twice (a process dying mid-work leaves its lease to run out, and the work is claimed again).
 * `start` polls every interval until `stop`: what each kind's service runs (webhooks, expiry, the content check).
 * The handler's outcome may carry more than `DueOutcome` (`O`): `runClaimed` answers it to the caller.
 */
export class DueWorker<P, O extends DueOutcome<P> = DueOutcome<P>> {
  /** Entries this process works on now: another poll does not claim them again. */
  private readonly working = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Retries due before the next poll, run by this process at their time. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private loop: SweepLoop | undefined;
  private intervalMs: number | undefined;
  private halted = false;

  constructor(
    private readonly index: DueIndex,
    readonly kind: string,
    private readonly handle: (entry: ClaimedEntry<P>) => Promise<O>,
    private readonly options: DueWorkerOptions<P>,
  ) {}

  /** Polls every `intervalMs`, the first time after `firstDelayMs`, until `stop` (two polls never overlap). */
  start(intervalMs: number, firstDelayMs = intervalMs): void {
    this.intervalMs = intervalMs;
    this.loop ??= new SweepLoop(() => this.pollLogged(), intervalMs);
    this.loop.start(firstDelayMs);
  }

  /** True once `stop()` was called: work in progress checks it to end early, and nothing new starts. */
  get stopped(): boolean {
    return this.halted;
  }

  /**
   * Starts no other poll or work; settles when the poll and the work in progress have ended, so that each entry is
   * settled rather than left leased (a lease left by a clean stop holds the work back from the next process).
   */
  async stop(): Promise<void> {
    this.halted = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([this.loop?.stop(), this.settled()]);
  }

  /**
   * One poll: lists the kind's earliest entries, works on those due (`concurrency` at a time) and settles when they
   * are done; `stopped` (or `stop`) ends it early. Answers how many entries it worked on.
   */
  async poll(stopped: () => boolean = () => false): Promise<number> {
    const refs = (await this.index.due(this.kind, this.options.pageSize)).filter((r) => !this.working.has(r.key));
    let worked = 0;
    const ended = () => this.halted || stopped();
    const workers = Array.from({ length: this.options.concurrency }, async () => {
      for (let ref = refs.shift(); ref !== undefined && !ended(); ref = refs.shift()) {
        if (await this.work(ref)) worked++;
      }
    });
    await Promise.all(workers);
    return worked;
  }

  /** Works on one entry now, in the background (a delivery just recorded); `settled` waits for it. */
  runNow(ref: DueRef): void {
    if (this.halted) return;
    void this.track(this.work(ref)); // never rejects: `work` tells `onError`
  }

  /**
   * Works on an entry this process claimed itself (`DueIndex.scheduleClaimed`): the handler (or `handle`, for what
   * the caller knows already), then the entry removed or rescheduled. Answers the handler's outcome as soon as it has
   * it (undefined when it threw: told to `onError`, the lease runs out and the work is claimed again); the entry is
   * settled in the background (`settled` waits for it; if the process dies first, the work is claimed again).
   */
  runClaimed(entry: ClaimedEntry<P>, handle = this.handle): Promise<O | undefined> {
    const outcome = this.track(this.attempt(entry, handle));
    void this.track(outcome.then((o) => o && this.finish(entry, o)));
    return outcome;
  }

  /** Settles when the work started by `runNow` and `runClaimed` has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private async pollLogged(): Promise<void> {
    try {
      await this.poll();
    } catch (error) {
      this.options.onPollError?.(error);
    }
  }

  /**
   * Works on the entry `id` due at `at` then, if that comes before the next poll could find it (a retry after a short
   * backoff): without it a retry would wait for a poll, however frequent. Only while polling (`start`).
   */
  private runAt(id: string, at: number): void {
    const delayMs = Math.ceil(at) - Date.now() + TIMER_MARGIN_MS;
    if (this.halted || this.intervalMs === undefined || delayMs >= this.intervalMs) return;
    const ref = parseDueKey(this.kind, dueKey(this.kind, id, at))!;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.runNow(ref);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  /** Claims the entry, runs the handler, and removes or reschedules it; false when it could not be claimed. */
  private async work(ref: DueRef): Promise<boolean> {
    if (this.working.has(ref.key)) return false;
    this.working.add(ref.key);
    try {
      const claimed = await this.index.claim<P>(ref, this.options.leaseMs);
      if (!claimed) return false;
      const outcome = await this.attempt(claimed, this.handle);
      return outcome !== undefined && (await this.finish(claimed, outcome));
    } catch (error) {
      this.options.onError(ref, error);
      return false;
    } finally {
      this.working.delete(ref.key);
    }
  }

  /** The handler on a claimed entry; undefined when it threw (told to `onError`). */
  private async attempt(claimed: ClaimedEntry<P>, handle: (entry: ClaimedEntry<P>) => Promise<O>) {
    try {
      return await handle(claimed);
    } catch (error) {
      this.options.onError(claimed, error);
      return undefined;
    }
  }

  /** Removes or reschedules a claimed entry as its outcome says; false when that threw (told to `onError`). */
  private async finish(claimed: ClaimedEntry<P>, outcome: O): Promise<boolean> {
    try {
      if ("done" in outcome) await this.index.remove(claimed);
      else if (await this.index.reschedule(claimed, outcome.retryAt, outcome.payload)) {
        this.runAt(claimed.id, outcome.retryAt);
      }
      return true;
    } catch (error) {
      this.options.onError(claimed, error);
      return false;
    }
  }
}
