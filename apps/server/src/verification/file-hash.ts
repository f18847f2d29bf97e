import { createHash } from "node:crypto";
import type { ByteSource } from "./byte-source";

/** What one read of the whole-file hash asks the store for. */
export const HASH_CHUNK_BYTES = 8 * 1024 * 1024;
/** Reads in flight at once: the next chunk travels while the last one is hashed. */
const READS_AHEAD = 2;

/**
 * The SHA-256 (hex) of every byte of `source`, read in order in chunks of `chunkBytes` with `READS_AHEAD` reads in
 * flight: memory stays at a few chunks whatever the object's size (at most 24 MiB with the defaults). A read that
 * fails, or answers fewer bytes than the object has left (it changed or went meanwhile), throws.
 */
export async function sha256Of(source: ByteSource, chunkBytes = HASH_CHUNK_BYTES): Promise<string> {
  const hash = createHash("sha256");
  const pending: Promise<Uint8Array>[] = [];
  let next = 0;
  const ask = () => {
    if (next >= source.size) return;
    const offset = next;
    const length = Math.min(chunkBytes, source.size - offset);
    next += length;
    const read = source.read(offset, length).then((bytes) => {
      if (bytes.length !== length) throw new Error(`the object ended at ${offset + bytes.length} of ${source.size}`);
      return bytes;
    });
    read.catch(() => undefined); // awaited in order below; a failure ahead of its turn must not go unhandled
    pending.push(read);
  };
  for (let i = 0; i < READS_AHEAD; i++) ask();
  while (pending.length > 0) {
    const bytes = await pending.shift()!;
    ask();
    hash.update(bytes);
  }
  return hash.digest("hex");
}
