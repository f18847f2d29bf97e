import type { Storage } from "../storage/storage.port";
import type { ByteSource } from "./byte-source";

/**
 * The stored object `key` as a byte source, each read one ranged read of the store (`Storage.readObjectRange`);
 * `undefined` when there is no object. The size is taken once (or given, when the caller knows it: no HEAD then): a
 * read that finds the object gone fails.
 */
export async function storageByteSource(
  storage: Storage,
  key: string,
  knownSize?: number,
): Promise<ByteSource | undefined> {
  const size = knownSize ?? (await storage.objectSize(key));
  if (size === undefined) return undefined;
  return {
    size,
    async read(offset, length) {
      const bytes = await storage.readObjectRange(key, offset, Math.max(0, Math.min(length, size - offset)));
      if (bytes === undefined) throw new Error(`the object ${key} went while it was read`);
      return bytes;
    },
  };
}
