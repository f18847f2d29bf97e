import type { Verdict } from "./rate-limit-store.port";

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * The verdict for a bucket holding `tokens` after a take of `cost` (taken only when `allowed`), `burst` tokens at
 * most, refilled at `perMinute` a minute. Shared by the in-process buckets and the Redis script's answer.
 */
export function bucketVerdict(
  allowed: boolean,
  tokens: number,
  cost: number,
  perMinute: number,
  burst: number,
): Verdict {
  const ratePerMs = perMinute / 60_000;
  return {
    allowed,
    counted: true,
    limit: burst,
    remaining: Math.max(0, Math.floor(tokens)),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((cost - tokens) / ratePerMs / 1000)),
    resetSeconds: Math.max(0, Math.ceil((burst - tokens) / ratePerMs / 1000)),
  };
}

/**
 * Token buckets, one per id, in this process's memory: `burst` requests at once, refilled evenly at `perMinute` a
 * minute (no window edges to double up at). Full buckets are swept, and the number of buckets is capped, so ids
 * from many addresses cannot grow memory without bound.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  /** The longest a bucket seen so far takes to refill completely: older buckets are full and can go. */
  private longestRefillMs = 60_000;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxBuckets = 100_000,
  ) {}

  take(id: string, cost: number, perMinute: number, burst: number = perMinute): Verdict {
    const now = this.now();
    const ratePerMs = perMinute / 60_000;
    this.longestRefillMs = Math.max(this.longestRefillMs, Math.ceil(burst / ratePerMs));
    const bucket = this.buckets.get(id) ?? { tokens: burst, updatedMs: now };
    bucket.tokens = Math.min(burst, bucket.tokens + Math.max(0, now - bucket.updatedMs) * ratePerMs);
    bucket.updatedMs = now;
    const allowed = bucket.tokens >= cost;
    if (allowed) bucket.tokens -= cost;
    if (!this.buckets.has(id)) {
      if (this.buckets.size >= this.maxBuckets) this.sweep();
      // Still full of strangers after a sweep: forget the oldest (Map keeps insertion order).
      if (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
      this.buckets.set(id, bucket);
    }
    return bucketVerdict(allowed, bucket.tokens, cost, perMinute, burst);
  }

  /** Forgets buckets that have refilled completely (they would start full anyway). */
  sweep(): void {
    const now = this.now();
    for (const [id, bucket] of this.buckets) {
      if (now - bucket.updatedMs >= this.longestRefillMs) this.buckets.delete(id);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
