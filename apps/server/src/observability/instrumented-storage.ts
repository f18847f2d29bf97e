import type { Logger } from "pino";
import { ApiError } from "../errors/api-error";
import { StorageError, type Storage } from "../storage/storage.port";
import { noteFailure } from "./access-log";
import { currentRequest } from "./request-context";

export interface StorageCallObserver {
  /** Called once per settled call of a port method with its duration and outcome. */
  (operation: string, seconds: number, error: unknown): void;
}

/**
 * The storage adapter, observed from outside: every method that returns a promise is timed and its outcome reported
 * to `observe`; failures that are not the caller's fault (outages, bugs) are attached to the current request's access
 * line with their cause. A Proxy rather than edits to each adapter, and it keeps `instanceof` and the adapters' own
 * methods working.
 */
export function instrumentStorage<T extends Storage>(storage: T, observe: StorageCallObserver, logger: Logger): T {
  return new Proxy(storage, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property !== "string" || property === "constructor") return value;
      return function observed(this: unknown, ...args: unknown[]): unknown {
        const started = process.hrtime.bigint();
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
        return result.then(
          (out: unknown) => {
            observe(property, seconds(), undefined);
            return out;
          },
          (error: unknown) => {
            observe(property, seconds(), error);
            if (isOutage(error)) {
              const request = currentRequest();
              // Outside a request (start-up, background work) nothing else would say why: log it here.
              if (request) noteFailure(request, error);
              else logger.error({ operation: property, err: error }, "storage call failed");
            }
            throw error;
          },
        );
      };
    },
  });
}

/**
 * An error that says the store (or the gateway) is broken, as opposed to an expected refusal (no such upload, ...) or
 * the client's own doing (a part's body cut by its timeout or by the client hanging up: an `ApiError`).
 */
export function isOutage(error: unknown): boolean {
  if (error instanceof ApiError) return false;
  return !(error instanceof StorageError) || error.reason === "unavailable";
}
