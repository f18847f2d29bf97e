import type { ObjectHead } from "../storage/storage.port";

/**
 * What a single PUT's stored object carries that its URL did not set: metadata entries other than the signed ones (a
 * store such as Ceph RGW keeps `x-amz-meta-*` headers a presigned URL does not sign, and joins a repeated signed one
 * into its value) and stored headers downloads would echo (`Cache-Control`, `Content-Encoding`, ...). The names, as
 * they would be sent; none when the object is exactly what the URL asked for.
 */
export function headersNotSigned(head: ObjectHead, signedMetadata: Readonly<Record<string, string>>): string[] {
  const metadata = Object.entries(head.metadata)
    .filter(([name, value]) => signedMetadata[name.toLowerCase()] !== value)
    .map(([name]) => `x-amz-meta-${name.toLowerCase()}`);
  return [...metadata, ...Object.keys(head.storedHeaders)].sort();
}
