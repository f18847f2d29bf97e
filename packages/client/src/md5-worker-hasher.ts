import workerSource from "inline-worker:./md5.worker";
import type { Md5Job, Md5Reply } from "./md5.worker";
import { md5Hasher, type PartHasher } from "./part-hash";

/**
 * Part MD5s in a Web Worker. On the main thread, MD5 in JS took 55-66 ms per 5 MiB part in Chromium: it halved the
 * upload's speed and froze the page for that long per part. In the worker, in WebAssembly, it runs beside the
 * uploads (the uploader hashes the parts next in line while others are sent) and the page stays responsive.
 *
 * The worker's code is inlined in the package and started from a Blob URL, so apps need no bundler set-up. Where
 * workers or Blob URLs are unavailable (Node, Deno, a Content-Security-Policy without `worker-src blob:`), parts are
 * hashed on the calling thread instead: the upload still works, only slower.
 */
export function defaultPartHasher(): PartHasher {
  if (typeof Worker !== "function" || typeof URL === "undefined" || typeof URL.createObjectURL !== "function")
    return md5Hasher;
  // Only a real Blob can be handed to the worker; Blob-shaped parts (a file's, in Node) are read and hashed here.
  return (part) => (part instanceof Blob ? (shared ??= new Md5Worker()).hash(part) : md5Hasher(part));
}

/** Time without jobs after which the worker is stopped (and started again by the next hash). */
const IDLE_MS = 15_000;

let shared: Md5Worker | undefined;

class Md5Worker {
  private worker: Worker | undefined;
  private url: string | undefined;
  /** Set once the worker could not start or crashed: hash on this thread from then on. */
  private broken = false;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { part: Blob; resolve: (md5: string) => void; reject: (error: Error) => void }
  >();
  private idle: ReturnType<typeof setTimeout> | undefined;

  hash(part: Blob): Promise<string> {
    const worker = this.broken ? undefined : this.started();
    if (!worker) return md5Hasher(part);
    clearTimeout(this.idle);
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { part, resolve, reject });
      worker.postMessage({ id, part } satisfies Md5Job);
    });
  }

  private started(): Worker | undefined {
    if (this.worker) return this.worker;
    try {
      this.url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
      const worker = new Worker(this.url, { name: "upload-gateway-md5" });
      worker.addEventListener("message", (event: MessageEvent<Md5Reply>) => this.settle(event.data));
      // A worker that cannot load (CSP) or dies: finish its jobs here, and stop using workers.
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        this.fallBack();
      });
      worker.addEventListener("messageerror", () => this.fallBack());
      this.worker = worker;
      return worker;
    } catch {
      this.fallBack();
      return undefined;
    }
  }

  private settle(reply: Md5Reply): void {
    const job = this.pending.get(reply.id);
    if (!job) return;
    this.pending.delete(reply.id);
    if ("md5" in reply) job.resolve(reply.md5);
    else job.reject(new Error(`Could not read the part to hash it: ${reply.error}`));
    if (this.pending.size === 0) this.idle = setTimeout(() => this.stop(), IDLE_MS);
  }

  private fallBack(): void {
    this.broken = true;
    this.stop();
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const job of jobs) md5Hasher(job.part).then(job.resolve, job.reject);
  }

  private stop(): void {
    clearTimeout(this.idle);
    this.worker?.terminate();
    this.worker = undefined;
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = undefined;
  }
}
