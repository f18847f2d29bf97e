import type { Logger } from "pino";
import type { AppConfig } from "../../config/app-config";
import type { GatewayMetrics } from "../../observability/metrics";
import { MemoryRateLimitStore } from "./memory-rate-limit.store";
import type { RateLimitStore } from "./rate-limit-store.port";
import { RateLimitStoreOutage } from "./rate-limit-store-outage";

/**
 * The store the configuration asks for: Redis shared by every replica with REDIS_URL, this process's memory without.
 * The Redis client is loaded only when REDIS_URL is set.
 */
export async function createRateLimitStore(
  config: AppConfig,
  logger: Logger,
  metrics: GatewayMetrics,
): Promise<RateLimitStore> {
  if (!config.REDIS_URL) return new MemoryRateLimitStore();
  const { RedisRateLimitStore } = await import("./redis-rate-limit.store.js");
  return RedisRateLimitStore.connect({
    url: config.REDIS_URL,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    events: new RateLimitStoreOutage(logger, () => metrics.rateLimitStoreErrors.inc()),
  });
}

/**
 * Where the limits are counted, for the start banner (the Redis URL without its user and password); nothing to say
 * for a gateway on the embedded store without Redis, which runs as one process.
 */
export function rateLimitScope(config: AppConfig): string | undefined {
  if (config.REDIS_URL) {
    const url = new URL(config.REDIS_URL);
    return `shared by the replicas in Redis at ${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  }
  return config.STORAGE === "s3"
    ? "per replica: each counts on its own (set REDIS_URL to share the limits across replicas)"
    : undefined;
}
