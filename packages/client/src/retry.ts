export interface RetryPolicy {
  /**
   * How long an operation (a part, the start, a resume, the completion) keeps being retried while it fails, in ms
   * (default 10 minutes). The clock starts at its first failure and starts over after it succeeds; time spent offline
   * in a browser does not count. Also settable as `UploadOptions.retryForMs`.
   */
  retryForMs: number;
  /**
   * @deprecated Give a time budget (`retryForMs`) instead: an outage lasts a time, not a number of attempts. When set,
   * an operation also gives up after this many attempts after the first (default: no limit but the time budget).
   */
  retries: number;
  /** Delay before the first retry, doubled on each (default 500 ms). */
  baseDelayMs: number;
  /** Longest delay between attempts (default 30 s). */
  maxDelayMs: number;
}

/** Ten minutes: longer than a Wi-Fi switch, a store's failover or a gateway's redeploy. */
export const DEFAULT_RETRY_FOR_MS = 10 * 60_000;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retryForMs: DEFAULT_RETRY_FOR_MS,
  retries: Number.POSITIVE_INFINITY,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
};

/**
 * Exponential backoff with full jitter (a random delay up to the exponential cap), so that many clients retrying at
 * once spread out; a server's Retry-After, when given, is honoured instead (within `maxDelayMs` × 3).
 */
export function retryDelay(
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">,
  attempt: number,
  retryAfter?: string | null,
  random = Math.random,
): number {
  const fromServer = parseRetryAfter(retryAfter);
  if (fromServer !== undefined) return Math.min(fromServer, policy.maxDelayMs * 3);
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(random() * cap);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
