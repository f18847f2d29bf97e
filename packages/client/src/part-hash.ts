import { md5 } from "@noble/hashes/legacy";
import type { ErrorCode } from "@upload-gateway/contract";
import { bytesToHex } from "@noble/hashes/utils";

/** Computes the hex MD5 of a part; the Node entry swaps in `node:crypto`, browsers a Web Worker (see md5-worker-hasher). */
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

/** A hex MD5 as `Content-MD5` wants it: base64 of the 16 bytes. */
export function contentMd5OfHex(hex: string): string {
  let binary = "";
  for (let i = 0; i < hex.length; i += 2) binary += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return btoa(binary);
}

/**
 * Whether a part PUT was refused because its bytes did not match its `Content-MD5`: S3's and Ceph's 400 `BadDigest`
 * (an XML error document), or the embedded store's 400 envelope with a digest error code. The bytes were corrupted on
 * the way, so sending the part again can succeed.
 */
export function isDigestRefusal(status: number, body: string | undefined): boolean {
  if (status !== 400 || !body) return false;
  if (/<Code>\s*BadDigest\s*<\/Code>/.test(body)) return true;
  try {
    const details = (JSON.parse(body) as { errorDetails?: { code?: unknown }[] }).errorDetails ?? [];
    return details.some((d) => d.code === ("BAD_DIGEST" satisfies ErrorCode));
  } catch {
    return false;
  }
}
