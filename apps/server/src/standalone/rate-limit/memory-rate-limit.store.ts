import type { RateLimitStore, Verdict } from "./rate-limit-store.port";
import { TokenBuckets } from "./token-bucket";

/**
 * The in-process store (no REDIS_URL): buckets in this process's memory. Behind N replicas a key gets up to N times
 * its limit, one bucket per replica.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly buckets: TokenBuckets;
  private readonly sweeper: NodeJS.Timeout;

  constructor(now: () => number = Date.now) {
    this.buckets = new TokenBuckets(now);
    this.sweeper = setInterval(() => this.buckets.sweep(), 60_000).unref();
  }

  take(key: string, cost: number, perMinute: number, burst: number): Promise<Verdict> {
    return Promise.resolve(this.buckets.take(key, cost, perMinute, burst));
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    return Promise.resolve();
  }
}
