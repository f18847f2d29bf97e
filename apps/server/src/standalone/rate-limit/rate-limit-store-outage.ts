import type { Logger } from "pino";
import type { RedisStoreEvents } from "./redis-rate-limit.store";

/**
 * Tells the operator that rate limits are not being counted because the shared store fails: a counter per request let
 * through uncounted (the metric), and a warning at most once per `intervalMs` however many requests and reconnect
 * attempts fail, then one line when the store answers again.
 */
export class RateLimitStoreOutage implements RedisStoreEvents {
  private lastWarningMs = -Infinity;
  private uncountedSinceWarning = 0;
  private failing = false;

  constructor(
    private readonly logger: Logger,
    private readonly countUncounted: () => void,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  failedTake(error: Error): void {
    this.countUncounted();
    this.uncountedSinceWarning += 1;
    this.warn(error);
  }

  connectionError(error: Error): void {
    this.warn(error);
  }

  ready(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.info("Rate limits: Redis (REDIS_URL) answers again; requests are counted again");
  }

  private warn(error: Error): void {
    this.failing = true;
    const now = this.now();
    if (now - this.lastWarningMs < this.intervalMs) return;
    this.lastWarningMs = now;
    const uncounted = this.uncountedSinceWarning;
    this.uncountedSinceWarning = 0;
    this.logger.warn(
      { uncounted },
      `Rate limits are not counted: Redis (REDIS_URL) fails (${error.message}); requests are let through until it ` +
        `answers (${uncounted} so far; next report in a minute at most)`,
    );
  }
}
