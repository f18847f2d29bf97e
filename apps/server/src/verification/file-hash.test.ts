import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { MemoryObjectStore } from "../storage/memory-object.store";
import type { ObjectStream } from "../storage/object-store.port";
import { sha256Of } from "./file-hash";

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A store holding `data` at "k" (the in-memory adapter: streamed in 64 KiB chunks). */
async function storeWith(data: Buffer): Promise<MemoryObjectStore> {
  const store = new MemoryObjectStore();
  await store.writeObject("k", Readable.from([data]), { expectedSize: data.length, contentType: "video/mp4" });
  return store;
}

describe("sha256Of", () => {
  it("hashes every byte of a stored object, an empty one too", async () => {
    for (const data of [randomBytes(3 * MiB + 5), Buffer.alloc(0)]) {
      expect(await sha256Of(await storeWith(data), "k", data.length)).toBe(sha256(data));
    }
  });

  it("throws for a missing object, and for one of another size than the upload's", async () => {
    const store = await storeWith(randomBytes(1000));
    await expect(sha256Of(store, "nope", 1000)).rejects.toThrow(/not in the store/);
    await expect(sha256Of(store, "k", 999)).rejects.toThrow(/1000 bytes, not 999/);
  });

  it("throws when the bytes that arrive are fewer or more than the store announced, and stops reading more", async () => {
    let pulled = 0;
    const lying = (size: number, chunks: number): Pick<MemoryObjectStore, "streamObject"> => ({
      streamObject: () =>
        Promise.resolve<ObjectStream>({
          size,
          chunks: (async function* () {
            for (let i = 0; i < chunks; i++, pulled++) {
              await Promise.resolve(); // each chunk arrives on a later turn, as a socket's reads do
              yield new Uint8Array(100);
            }
          })(),
        }),
    });
    await expect(sha256Of(lying(1000, 9), "k", 1000)).rejects.toThrow(/ended at 900 of 1000/);
    pulled = 0;
    await expect(sha256Of(lying(1000, 1_000_000), "k", 1000)).rejects.toThrow(/ended at 1100 of 1000/);
    expect(pulled).toBe(10); // the 11th chunk ended the read
  });

  it("keeps memory flat on a large object: it takes a chunk at a time and holds none", async () => {
    const chunk = randomBytes(MiB);
    const size = 512 * MiB;
    let peak = 0;
    const store: Pick<MemoryObjectStore, "streamObject"> = {
      streamObject: () =>
        Promise.resolve<ObjectStream>({
          size,
          chunks: (async function* () {
            const base = process.memoryUsage().arrayBuffers;
            for (let sent = 0; sent < size; sent += MiB) {
              peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
              await Promise.resolve();
              yield Buffer.from(chunk); // a fresh buffer each time, as a socket's reads are
            }
          })(),
        }),
    };
    const expected = createHash("sha256");
    for (let i = 0; i < size / MiB; i++) expected.update(chunk);
    expect(await sha256Of(store, "k", size)).toBe(expected.digest("hex"));
    expect(peak).toBeLessThan(128 * MiB); // 512 MiB went through (a collection runs every ~64 MiB of buffers)
  });
});
