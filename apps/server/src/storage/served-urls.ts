import { LocalUrlSigner, signedDownloadQuery, signedPutQuery, type SignedGrant } from "./local-url-signer";
import type { DownloadOptions, PlannedPart, SignedPut, SinglePutObject } from "./object-store.port";

/**
 * The paths of a served store's URLs below the gateway's path prefix: declared once, read by the stores that sign
 * the URLs (`ServedUrls`) and by the routers that serve them (local-store-http/local-store.routes.ts: Fastify,
 * Express, and the tests' plain Node server). A segment is literal, `:name` (one segment, a parameter) or `*name`
 * (the rest of the path: its segments, decoded, joined by `/`).
 */
export const SERVED_PATHS = {
  /** One part of a multipart upload (`presignUploadParts`). */
  part: ["storage", "uploads", ":uploadId", "parts", ":partNumber"],
  /** A stored object: its single PUT (`presignPutObject`) and its downloads (`presignDownload`). */
  object: ["storage", "objects", "*key"],
  /** Any path of the store, for preflights. */
  any: ["storage", "*rest"],
} as const satisfies Record<string, readonly string[]>;

export type ServedPath = (typeof SERVED_PATHS)[keyof typeof SERVED_PATHS];

/** The path `path` names with `params` filled in, each segment percent-encoded. */
export function servedPath(path: readonly string[], params: Readonly<Record<string, string>>): string {
  const segments = path.flatMap((segment) => {
    const name = segment.slice(1);
    if (segment.startsWith(":")) return [encodeURIComponent(params[name] ?? "")];
    if (segment.startsWith("*")) return (params[name] ?? "").split("/").map(encodeURIComponent);
    return [segment];
  });
  return `/${segments.join("/")}`;
}

/**
 * The signed URLs of a store the gateway serves itself (`ServedStore`: the embedded and the in-memory store), and
 * the check of their signatures: each URL grants exactly what its signature covers (see local-url-signer.ts).
 */
export class ServedUrls {
  readonly urlOrigin: string;
  private readonly publicUrl: string;
  private readonly signer: LocalUrlSigner;

  constructor(publicUrl: string, signingSecret: Buffer) {
    this.publicUrl = publicUrl.replace(/\/+$/, "");
    this.urlOrigin = new URL(this.publicUrl).origin;
    this.signer = new LocalUrlSigner(signingSecret);
  }

  /** A PUT URL per part, each binding the part's exact size. */
  partUrls(key: string, uploadId: string, parts: readonly PlannedPart[], expiresInSeconds: number): string[] {
    const expires = unixNow() + expiresInSeconds;
    return parts.map(({ partNumber, size }) => {
      const signature = this.signer.sign({ method: "PUT", key, uploadId, partNumber, size, expires });
      const query = new URLSearchParams({ key, size: String(size), expires: String(expires), signature });
      const path = servedPath(SERVED_PATHS.part, { uploadId, partNumber: String(partNumber) });
      return `${this.publicUrl}${path}?${query.toString()}`;
    });
  }

  /**
   * The URL carries everything the object gets (size, type, metadata), signed, so the request needs no header: a PUT
   * of the body alone stores the file.
   */
  putObjectUrl(key: string, object: SinglePutObject, expiresInSeconds: number): SignedPut {
    const query = signedPutQuery(this.signer, key, object, unixNow() + expiresInSeconds);
    return { url: `${this.objectUrl(key)}?${query.toString()}`, headers: {} };
  }

  /** The download answers with the type the object was stored with: on a served store always the one its URL set. */
  downloadUrl(key: string, expiresInSeconds: number, options: DownloadOptions = {}): string {
    const query = signedDownloadQuery(this.signer, key, unixNow() + expiresInSeconds, options.contentDisposition);
    return `${this.objectUrl(key)}?${query.toString()}`;
  }

  /** Checks a signed URL's grant; used by the part and download routes. */
  verifyGrant(grant: SignedGrant, signature: string): "ok" | "expired" | "invalid" {
    return this.signer.verify(grant, signature);
  }

  private objectUrl(key: string): string {
    return `${this.publicUrl}${servedPath(SERVED_PATHS.object, { key })}`;
  }
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
