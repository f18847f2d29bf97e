import type { Storage } from "../../src/storage/storage.port";

/** The port's calls that are requests to the store (presigning is signing, done in the process on S3). */
const REQUESTS = new Set<string>([
  "createMultipartUpload",
  "listParts",
  "completeMultipartUpload",
  "abortMultipartUpload",
  "readJson",
  "readDocument",
  "writeJson",
  "writeDocument", // counted as the `writeJson` it is (one PUT), with the version it wrote
  "objectSize",
  "objectHead",
  "readObjectRange",
  "streamObject",
  "deleteObject",
  "moveObject",
  "listKeys",
  "checkReady",
]);

export interface CountedRequest {
  method: string;
  /** The key (or prefix) it was about. */
  key: string;
  /**
   * Its place in the longest chain of requests each started after the one before it ended: 1 for requests started
   * before any other ended, 2 for those started after one of depth 1 ended, and so on.
   */
  depth: number;
}

/**
 * A store that counts the requests made through it, and how many of them were made one after another: what a
 * request costs in round trips to a real store, whatever the in-memory store's speed.
 */
export class RequestCounter {
  requests: CountedRequest[] = [];
  private deepestEnded = 0;

  /** `storage`, counting its requests here. */
  wrap<S extends Storage>(storage: S): S {
    return new Proxy(storage, {
      get: (target, name, receiver) => {
        const value: unknown = Reflect.get(target, name, receiver);
        if (typeof value !== "function") return value;
        const bound = (value as (...a: unknown[]) => unknown).bind(target);
        if (typeof name !== "string" || !REQUESTS.has(name)) return bound;
        return async (...args: unknown[]) => {
          const counted: CountedRequest = {
            method: name === "writeDocument" ? "writeJson" : name,
            key: typeof args[0] === "string" ? args[0] : "",
            depth: this.deepestEnded + 1,
          };
          this.requests.push(counted);
          try {
            return await bound(...args);
          } finally {
            this.deepestEnded = Math.max(this.deepestEnded, counted.depth);
          }
        };
      },
    });
  }

  /** Starts counting afresh. */
  reset(): void {
    this.requests = [];
    this.deepestEnded = 0;
  }

  /** How many requests were made, by method. */
  byMethod(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.requests) counts[r.method] = (counts[r.method] ?? 0) + 1;
    return counts;
  }

  /** The longest chain of requests made one after another. */
  get inSequence(): number {
    return Math.max(0, ...this.requests.map((r) => r.depth));
  }
}
