import type { ErrorCode } from "@upload-gateway/contract";
import { isAbort } from "./api-client";
import { whileOffline } from "./connectivity";
import { NetworkError, UploadFailedError, UploadGatewayError } from "./errors";
import { retryDelay, sleep, type RetryPolicy } from "./retry";

/** Which side did not answer: the store (part PUTs, or the gateway's 503 `STORAGE_UNAVAILABLE`) or the gateway. */
export type Unreachable = "store" | "gateway";

/** Told to `onRetry` before each wait between two attempts. */
export interface RetryNotice {
  /** What is being retried: `part 3`, `start the upload`, `complete the upload`, … */
  what: string;
  /** Why the last attempt failed. */
  reason: string;
  /** Set when the last attempt got no answer (or the gateway said the store cannot be reached). */
  unreachable?: Unreachable;
  /**
   * The gateway's error code of the last attempt, when it answered one: `VERIFICATION_PENDING` while it is still
   * checking the stored file's content (a wait, not a fault), `RATE_LIMITED`, `STORAGE_UNAVAILABLE`, ….
   */
  code?: ErrorCode;
  /** Failed attempts so far, this one included. */
  failures: number;
  /** How long until the next attempt. */
  delayMs: number;
  /** How much of the time budget is left after the wait (0 when the next attempt is the last). */
  leftMs: number;
}

export interface RetryBudgetOptions {
  signal: AbortSignal;
  /** The request key to name in the error once the budget is spent. */
  requestKey?: () => string | undefined;
  onRetry?: (notice: RetryNotice) => void;
  now?: () => number;
  random?: () => number;
}

/**
 * The retries of one operation (one part, or one call to the gateway): attempts go on, with exponential backoff and
 * jitter, until they have failed for `retryForMs` in a row (or, if set, `retries` times); a success starts the clock
 * over. Time spent offline (a browser's `navigator.onLine`) is not counted: nothing is tried then.
 */
export class RetryBudget {
  private failures = 0;
  /** When the failures in a row began, moved on by the time spent offline since. */
  private since: number | undefined;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly what: string,
    readonly options: RetryBudgetOptions,
  ) {
    checkRetryPolicy(policy);
  }

  /** Failed attempts since the last success. */
  get failed(): number {
    return this.failures;
  }

  succeeded(): void {
    this.failures = 0;
    this.since = undefined;
  }

  /**
   * Counts a failed attempt and waits before the next one (and while offline); throws `UploadFailedError` when the
   * budget is spent, or the signal's reason when cancelled.
   */
  async retryAfterFailure(
    reason: string,
    detail: { retryAfter?: string | null; unreachable?: Unreachable; code?: ErrorCode } = {},
    /** Called once the attempt is known to be retried, before the wait. */
    onRetrying?: () => void,
  ): Promise<void> {
    const now = this.now();
    this.since ??= now;
    const elapsed = now - this.since;
    const left = this.policy.retryForMs - elapsed;
    if (this.failures >= this.policy.retries || left <= 0) {
      const over = left <= 0 ? ` in ${formatDuration(elapsed)}` : "";
      const why = `Gave up after ${this.failures + 1} attempts${over}: ${reason}`;
      throw new UploadFailedError(why, this.options.requestKey?.());
    }
    const delayMs = Math.min(retryDelay(this.policy, this.failures, detail.retryAfter, this.options.random), left);
    this.failures += 1;
    onRetrying?.();
    this.options.onRetry?.({
      what: this.what,
      reason,
      ...(detail.unreachable ? { unreachable: detail.unreachable } : {}),
      ...(detail.code ? { code: detail.code } : {}),
      failures: this.failures,
      delayMs,
      leftMs: Math.max(0, left - delayMs),
    });
    await sleep(delayMs, this.options.signal);
    this.since += await whileOffline(this.options.signal, () => this.now());
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/** Refuses a policy that is not one: NaN would never be spent (every comparison false) and retry without pause. */
export function checkRetryPolicy(policy: RetryPolicy): RetryPolicy {
  for (const key of ["retryForMs", "retries", "baseDelayMs", "maxDelayMs"] as const) {
    if (!(policy[key] >= 0)) throw new RangeError(`retry.${key} must be a number ≥ 0, not ${String(policy[key])}`);
  }
  return policy;
}

/**
 * Runs `call` until it succeeds, retrying what can succeed later (no answer, 429, 5xx, `STORAGE_UNAVAILABLE`,
 * `VERIFICATION_PENDING`) within the budget, after the gateway's `Retry-After` when it gave one; other errors, and a
 * spent budget, fail with `UploadFailedError` saying what could not be done.
 */
export async function withRetries<T>(budget: RetryBudget, what: string, call: () => Promise<T>): Promise<T> {
  const { signal } = budget.options;
  for (;;) {
    await whileOffline(signal);
    try {
      const result: T = await call();
      budget.succeeded();
      return result;
    } catch (error) {
      if (signal.aborted || isAbort(error)) throw error;
      const retryable = error instanceof NetworkError || (error instanceof UploadGatewayError && error.retryable);
      const requestKey = budget.options.requestKey?.();
      if (!retryable) {
        throw new UploadFailedError(`Could not ${what}: ${describe(error)}`, requestKey, { cause: error });
      }
      try {
        const answered = error instanceof UploadGatewayError ? error : undefined;
        await budget.retryAfterFailure(describe(error), {
          unreachable: unreachableOf(error),
          retryAfter: answered?.retryAfter,
          code: answered?.codes[0],
        });
      } catch (spent) {
        if (!(spent instanceof UploadFailedError)) throw spent;
        throw new UploadFailedError(`Could not ${what}: ${spent.message}`, requestKey, { cause: error });
      }
    }
  }
}

/** Who did not answer, as far as the error of a call to the gateway tells. */
export function unreachableOf(error: unknown): Unreachable | undefined {
  if (error instanceof NetworkError) return "gateway";
  if (error instanceof UploadGatewayError && error.hasCode("STORAGE_UNAVAILABLE")) return "store";
  return undefined;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `m:ss`, as the CLI shows a budget's time left. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** What the CLI's progress line says while an operation is retried: "store unreachable, retrying (2:10 left)". */
export function retryingStatus(notice: Pick<RetryNotice, "what" | "unreachable" | "code">, leftMs: number): string {
  if (notice.code === "VERIFICATION_PENDING") {
    const left = Number.isFinite(leftMs) ? ` (${formatDuration(leftMs)} left)` : "";
    return `gateway checking the file's content, waiting${left}`;
  }
  const what = notice.unreachable ? `${notice.unreachable} unreachable` : `${notice.what} failed`;
  return Number.isFinite(leftMs) ? `${what}, retrying (${formatDuration(leftMs)} left)` : `${what}, retrying`;
}
