import { Global, Module, type DynamicModule } from "@nestjs/common";
import type { Logger } from "pino";
import type { StorageCallObserver } from "./instrumented-storage";

/** The process's pino logger (the one Fastify and Nest write through). */
export const LOGGER = Symbol("Logger");
/** Receives every storage call's operation, duration and outcome (the storage module wraps its adapter with it). */
export const STORAGE_OBSERVER = Symbol("StorageObserver");

/** Logging and metrics for every module: the logger built before Nest starts, and what observes the storage. */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(logger: Logger): DynamicModule {
    const observeStorage: StorageCallObserver = () => undefined;
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
