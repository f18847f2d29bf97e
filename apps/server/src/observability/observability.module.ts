// Logging and metrics tokens, provided by the gateway's setup module (src/gateway/gateway-setup.module.ts).

/** The process's pino logger (the one Fastify and Nest write through). */
export const LOGGER = Symbol("Logger");
/** Receives every storage call's operation, duration and outcome (the storage module wraps its adapter with it). */
export const STORAGE_OBSERVER = Symbol("StorageObserver");
/**
 * The standalone server's Prometheus metrics (`GatewayMetrics`), for what counts outside requests (webhook
 * deliveries, the expiry sweep); null when embedded, where the application keeps its own metrics.
 */
export const METRICS = Symbol("Metrics");
