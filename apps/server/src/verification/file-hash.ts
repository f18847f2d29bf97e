import { createHash } from "node:crypto";
import type { ObjectStore } from "../storage/object-store.port";

/**
 * The SHA-256 (hex) of every byte of the stored object `key`, read by one streaming read of the store
 * (`streamObject`) and hashed as the bytes arrive: the read goes as fast as the hash takes the bytes (backpressure),
 * so memory stays at the read's buffers whatever the object's size. Ranged reads (8 MiB each, taken in whole, two
 * in flight) cost ~1.6x the CPU on RGW. Throws when there is no object, when it does not have `size` bytes (it
 * changed or went meanwhile), or when the read fails midway.
 */
export async function sha256Of(store: Pick<ObjectStore, "streamObject">, key: string, size: number): Promise<string> {
  const stream = await store.streamObject(key);
  if (!stream) throw new Error(`the object ${key} is not in the store`);
  if (stream.size !== size) throw new Error(`the object ${key} has ${stream.size} bytes, not ${size}`);
  const hash = createHash("sha256");
  let read = 0;
  for await (const chunk of stream.chunks) {
    read += chunk.length;
    if (read > size) break; // more than the store said: the check below refuses it; the break ends the read
    hash.update(chunk);
  }
  if (read !== size) throw new Error(`the object ${key} ended at ${read} of ${size} bytes`);
  return hash.digest("hex");
}
