import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Signs the embedded store's URLs the way S3 presigns its own: HMAC-SHA256 over everything the URL grants (method,
 * object key, upload, part number, the part's exact size) and its expiry, so a URL stores exactly the planned bytes of
 * one part of one upload until it expires.
 */
export interface SignedGrant {
  method: "PUT" | "GET";
  key: string;
  uploadId?: string;
  partNumber?: number;
  /** The exact number of bytes a part PUT must carry (S3 signs `content-length` for the same purpose). */
  size?: number;
  /** The `Content-Type` a single-PUT must carry (S3 signs `content-type` for the same purpose). */
  contentType?: string;
  /** The `Content-Disposition` a download answers with, when the URL sets it. */
  contentDisposition?: string;
  /** The metadata a single PUT's object gets (S3 signs its `x-amz-meta-*` query parameters for the same purpose). */
  metadata?: Record<string, string>;
  /** Unix time in seconds after which the URL is refused. */
  expires: number;
}

/** The query parameters of a single-PUT URL that carry the object's metadata, named as S3's. */
export const METADATA_PARAM = "x-amz-meta-";
/** The query parameter of a single-PUT URL that carries the object's type (signed; the request's is not used). */
export const CONTENT_TYPE_PARAM = "type";

export class LocalUrlSigner {
  constructor(private readonly secret: Buffer) {}

  sign(grant: SignedGrant): string {
    return createHmac("sha256", this.secret).update(canonical(grant)).digest("base64url");
  }

  /** Whether `signature` is valid for `grant` and the grant has not expired at `now` (ms). */
  verify(grant: SignedGrant, signature: string, now = Date.now()): "ok" | "expired" | "invalid" {
    const expected = Buffer.from(this.sign(grant));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "invalid";
    return grant.expires * 1000 < now ? "expired" : "ok";
  }
}

/**
 * The query of a single-PUT URL: the object's size, type and metadata (as S3's presigned PUTs carry
 * `x-amz-meta-*`), its expiry and the signature over all of them, so a PUT of the body alone stores exactly that.
 */
export function signedPutQuery(
  signer: LocalUrlSigner,
  key: string,
  object: { size: number; contentType: string; metadata: Record<string, string> },
  expires: number,
): URLSearchParams {
  const { size, contentType, metadata } = object;
  return new URLSearchParams([
    ["size", String(size)],
    [CONTENT_TYPE_PARAM, contentType],
    ["expires", String(expires)],
    ...Object.entries(metadata).map(([name, value]): [string, string] => [`${METADATA_PARAM}${name}`, value]),
    ["signature", signer.sign({ method: "PUT", key, size, contentType, metadata, expires })],
  ]);
}

/** The query of a download URL: its expiry, the disposition it answers with (when it sets one) and the signature. */
export function signedDownloadQuery(
  signer: LocalUrlSigner,
  key: string,
  expires: number,
  contentDisposition: string | undefined,
): URLSearchParams {
  const disposition = contentDisposition !== undefined ? { contentDisposition } : {};
  return new URLSearchParams({
    expires: String(expires),
    ...(contentDisposition !== undefined ? { disposition: contentDisposition } : {}),
    signature: signer.sign({ method: "GET", key, expires, ...disposition }),
  });
}

function canonical(grant: SignedGrant): string {
  // Newline-separated fields: none of them can contain a newline (keys are server-built, ids are validated, MIME types
  // and dispositions are checked text; metadata is one JSON line, sorted by name). The optional fields are named, and
  // appended only when present, so that URLs signed before they existed keep their signatures.
  const metadata = Object.entries(grant.metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const optional = [
    grant.contentType === undefined ? [] : [`content-type:${grant.contentType}`],
    grant.contentDisposition === undefined ? [] : [`content-disposition:${grant.contentDisposition}`],
    metadata.length === 0 ? [] : [`metadata:${JSON.stringify(metadata)}`],
  ].flat();
  return [
    grant.method,
    grant.key,
    grant.uploadId ?? "",
    grant.partNumber ?? "",
    grant.size ?? "",
    grant.expires,
    ...optional,
  ].join("\n");
}
