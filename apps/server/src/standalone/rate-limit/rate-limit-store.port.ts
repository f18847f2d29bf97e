/** What a store answers for one request: allowed or not, and what the RateLimit-* and Retry-After headers say. */
export interface Verdict {
  allowed: boolean;
  /**
   * False when the store could not count the request (a shared store unreachable or too slow): it is let through
   * (fail open) and no RateLimit-* headers are sent, since the store knows nothing to put in them.
   */
  counted: boolean;
  /** The bucket's size (the burst). */
  limit: number;
  /** Requests left right now. */
  remaining: number;
  /** Seconds until the next request would be allowed (0 when allowed). */
  retryAfterSeconds: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
}

/**
 * Where rate-limit counts are kept: token buckets, one per key, `burst` tokens refilled at `perMinute` a minute.
 * In this process (MemoryRateLimitStore), or in Redis shared by every replica (RedisRateLimitStore). A take is atomic:
 * concurrent takes on one key never allow more than the bucket holds.
 */
export interface RateLimitStore {
  /** Takes `cost` tokens from `key`'s bucket if it holds that many; never rejects (a store that fails, fails open). */
  take(key: string, cost: number, perMinute: number, burst: number): Promise<Verdict>;
  /** Releases what the store holds (timers, connections). */
  close(): Promise<void>;
}
