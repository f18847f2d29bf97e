import type { Readable } from "node:stream";
import type { SignedGrant } from "./local-url-signer";
import type { StoredPartInfo } from "./storage.port";

/**
 * A store whose signed URLs the gateway serves itself (local-store-http's routes) rather than a store of its own,
 * as S3 does: the embedded store (`LocalStorage`) and the in-memory one (`MemoryStorage`). What the routes need of it.
 */
export interface ServedStore {
  /** Checks a signed URL's grant. */
  verifyGrant(grant: SignedGrant, signature: string): "ok" | "expired" | "invalid";
  /** Stores one part from a PUT's body: exactly `expectedSize` bytes, matching `contentMd5` when given. */
  writePart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    options: ExpectedBody,
  ): Promise<StoredPartInfo>;
  /** Stores a whole object from a single PUT's body, once (`object-exists` when there is one). */
  writeObject(key: string, body: Readable, options: WriteObjectOptions): Promise<{ eTag: string; size: number }>;
  /** A stored object's headers and reader, for downloads; undefined when there is none. */
  openObject(key: string): Promise<StoredObject | undefined>;
}

/** What a PUT's body must be: exactly `expectedSize` bytes (its URL's grant), matching `contentMd5` when given. */
export interface ExpectedBody {
  expectedSize: number;
  /** The request's `Content-Length`, when it sent one: refused before anything is read when it is another size. */
  declaredLength?: number;
  contentMd5?: Buffer;
}

/** What a single PUT's body must be, and what its object gets (the signed URL's grant). */
export interface WriteObjectOptions extends ExpectedBody {
  contentType: string;
  metadata?: Record<string, string>;
}

/** A stored object, for the download route: its headers, and a reader of any byte range. */
export interface StoredObject {
  size: number;
  contentType: string;
  contentDisposition: string;
  /** The object's metadata (`x-amz-meta-*` on S3). */
  metadata: Record<string, string>;
  /** Bytes `start` to `end`, inclusive. */
  read(start: number, end: number): Readable;
}
