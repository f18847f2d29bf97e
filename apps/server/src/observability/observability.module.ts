import { Global, Module, type DynamicModule } from "@nestjs/common";
import type { Logger } from "pino";
import type { StorageCallObserver } from "./instrumented-storage";
import type { GatewayMetrics } from "./metrics";

/** The process's pino logger (the one Fastify and Nest write through). */
export const LOGGER = Symbol("Logger");
/** Receives every storage call's operation, duration and outcome (the storage module wraps its adapter with it). */
export const STORAGE_OBSERVER = Symbol("StorageObserver");

/** Logging and metrics for every module: the logger built before Nest starts, and what observes the storage. */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(logger: Logger, metrics: GatewayMetrics): DynamicModule {
    const observeStorage: StorageCallObserver = metrics.observeStorage;
    return {
      module: ObservabilityModule,
      providers: [
        { provide: LOGGER, useValue: logger },
        { provide: STORAGE_OBSERVER, useValue: observeStorage },
      ],
      exports: [LOGGER, STORAGE_OBSERVER],
    };
  }
}
