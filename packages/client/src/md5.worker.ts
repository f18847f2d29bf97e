/**
 * The Web Worker that computes part MD5s off the page's main thread (see md5-worker-hasher.ts). It is bundled into
 * one self-contained script at build time and started from a Blob URL, so bundlers of the npm package need no worker
 * configuration. MD5 runs in WebAssembly (hash-wasm, several times faster than JS); where a Content-Security-Policy
 * forbids compiling WebAssembly, in plain JS (@noble/hashes), still off the main thread.
 */
import { md5 as jsMd5 } from "@noble/hashes/legacy";
import { bytesToHex } from "@noble/hashes/utils";
import { createMD5 } from "hash-wasm";

export interface Md5Job {
  id: number;
  part: Blob;
}
export type Md5Reply = { id: number; md5: string } | { id: number; error: string };

interface Hasher {
  update(chunk: Uint8Array): void;
  digest(): string;
}

const scope = globalThis as unknown as {
  postMessage(message: Md5Reply): void;
  addEventListener(type: "message", listener: (event: { data: Md5Job }) => void): void;
};

const wasm = createMD5().catch(() => undefined);

async function newHasher(): Promise<Hasher> {
  const hasher = await wasm;
  if (hasher) {
    hasher.init();
    return { update: (chunk) => hasher.update(chunk), digest: () => hasher.digest("hex") };
  }
  const js = jsMd5.create();
  return { update: (chunk) => js.update(chunk), digest: () => bytesToHex(js.digest()) };
}

async function md5Of(part: Blob): Promise<string> {
  const hasher = await newHasher();
  // Streamed: a part can be up to 5 GiB, and is never held whole.
  const reader = part.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return hasher.digest();
    hasher.update(value);
  }
}

// One job at a time: the WebAssembly hasher is a single instance, and one core hashing is faster than the network.
let queue: Promise<unknown> = Promise.resolve();
scope.addEventListener("message", ({ data: { id, part } }) => {
  queue = queue.then(() =>
    md5Of(part).then(
      (md5) => scope.postMessage({ id, md5 }),
      (error: unknown) => scope.postMessage({ id, error: error instanceof Error ? error.message : String(error) }),
    ),
  );
});
