export interface Verdict {
  allowed: boolean;
  /** The bucket's size (requests per minute). */
  limit: number;
  /** Requests left right now. */
  remaining: number;
  /** Seconds until the next request would be allowed (0 when allowed). */
  retryAfterSeconds: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Token buckets, one per id, in this process's memory: `perMinute` requests in a burst, refilled evenly over a
 * minute (no window edges to double up at). Full buckets are swept, and the number of buckets is capped, so ids
 * from many addresses cannot grow memory without bound.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxBuckets = 100_000,
  ) {}

  take(id: string, perMinute: number): Verdict {
    const now = this.now();
    const ratePerMs = perMinute / 60_000;
    const bucket = this.buckets.get(id) ?? { tokens: perMinute, updatedMs: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.updatedMs) * ratePerMs);
    bucket.updatedMs = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    if (!this.buckets.has(id)) {
      if (this.buckets.size >= this.maxBuckets) this.sweep();
      // Still full of strangers after a sweep: forget the oldest (Map keeps insertion order).
      if (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
      this.buckets.set(id, bucket);
    }
    return {
      allowed,
      limit: perMinute,
      remaining: Math.floor(bucket.tokens),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000)),
      resetSeconds: Math.ceil((perMinute - bucket.tokens) / ratePerMs / 1000),
    };
  }

  /** Forgets buckets that have refilled completely (they would start full anyway). */
  sweep(): void {
    const now = this.now();
    for (const [id, bucket] of this.buckets) {
      // A bucket refills completely within a minute whatever its size.
      if (now - bucket.updatedMs >= 60_000) this.buckets.delete(id);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
