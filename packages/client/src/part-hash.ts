import { md5 } from "@noble/hashes/legacy";
import { bytesToHex } from "@noble/hashes/utils";

/** Computes the hex MD5 of a part; the Node entry swaps in `node:crypto`, which is faster. */
export type PartHasher = (part: Blob) => Promise<string>;

/** MD5 in plain JS (every runtime), streamed so a part is never held in memory whole. */
export const md5Hasher: PartHasher = async (part) => {
  const hash = md5.create();
  const reader = part.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
  }
  return bytesToHex(hash.digest());
};

/** Whether an ETag is a plain MD5 (S3 and the embedded store for parts), so it can be checked. */
export function md5OfETag(eTag: string | null): string | undefined {
  const match = eTag ? /^"?([0-9a-f]{32})"?$/i.exec(eTag.trim()) : null;
  return match?.[1]?.toLowerCase();
}
