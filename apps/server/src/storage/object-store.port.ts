/**
 * The multipart object store: what holds the uploaded files. Uploads in parts or by one PUT to presigned URLs,
 * completing and aborting, downloads, and the few reads that inspect a stored object. S3's multipart vocabulary;
 * adapters know nothing of Nest or HTTP and report failures as `StorageError`s (`storage-error.ts`). The JSON
 * documents the gateway keeps beside the objects (records, markers, the outbox) are the other port,
 * `DocumentStore` (`document-store.port.ts`); `Storage` (`storage.port.ts`) is the two together.
 */

export interface StoredPartInfo {
  partNumber: number;
  /** The part's ETag as the store reports it, including its double quotes. */
  eTag: string;
  size: number;
}

export interface ObjectMetadata {
  contentType: string;
  /** RFC 6266 `Content-Disposition` the download will carry. */
  contentDisposition: string;
  /** Small string metadata kept with the object (`x-amz-meta-*` on S3). */
  metadata: Record<string, string>;
}

/** A part of the plan: its number and the exact number of bytes its URL lets a client store. */
export interface PlannedPart {
  partNumber: number;
  size: number;
}

/** A metadata name an object can carry: S3 sends metadata as `x-amz-meta-<name>` headers and keeps names lowercase. */
export const METADATA_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * What a single-PUT URL binds: the object's exact size, and the metadata the object gets (the same entries a multipart
 * upload's object gets from `createMultipartUpload`). `contentType` is the type the embedded store keeps; on S3 the
 * object keeps what the PUT sent, and downloads answer with the type their URL sets (`DownloadOptions`).
 */
export interface SinglePutObject {
  size: number;
  contentType: string;
  metadata: Record<string, string>;
}

/** A presigned single PUT: its URL, and the headers its request must send as they are (signed into the URL). */
export interface SignedPut {
  url: string;
  /** Lowercase names; empty when the store needs none. `Content-Length` is never listed: clients send the body's. */
  headers: Record<string, string>;
}

/** What a download answers with, whatever headers the object was stored with. */
export interface DownloadOptions {
  contentDisposition?: string;
  contentType?: string;
  /** S3 only: the embedded store's objects never carry one, and its downloads send none. */
  cacheControl?: string;
}

/** A stored object's size and the headers a download of it would answer with besides its type. */
export interface ObjectHead {
  size: number;
  /** Its metadata (`x-amz-meta-*` on S3), names lowercase. */
  metadata: Record<string, string>;
  /**
   * Headers the object was stored with that downloads would echo and that neither a single PUT's URL nor a download
   * URL sets: `content-encoding`, `content-language`, `expires`, `x-amz-website-redirect-location` (and
   * `x-amz-server-side-encryption-customer-algorithm` for an object encrypted with a client's key); by lowercase
   * name. (Download URLs set `Content-Type`, `Content-Disposition` and `Cache-Control`.) Always empty on the embedded
   * store, which keeps none of a request's headers.
   */
  storedHeaders: Record<string, string>;
}

export interface CompletedPart {
  partNumber: number;
  eTag: string;
}

/** The most bytes one `readObjectRange` returns: its bytes are held in memory whole. */
export const MAX_RANGE_READ = 16 * 1024 * 1024;

/** Checks a ranged read's arguments: whole numbers, `length` at most `MAX_RANGE_READ`. */
export function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`invalid range: offset ${offset}, length ${length}`);
  }
  if (length > MAX_RANGE_READ) throw new RangeError(`a ranged read is at most ${MAX_RANGE_READ} bytes, not ${length}`);
}

/** A stored object's bytes as they are read (`ObjectStore.streamObject`). */
export interface ObjectStream {
  /** The object's size in bytes, as the store reported it before sending them. */
  size: number;
  chunks: AsyncIterable<Uint8Array>;
}

export interface ObjectStore {
  /**
   * Whether a stored part's ETag is the hex MD5 of its bytes (S3 without SSE-KMS/SSE-C, Ceph RGW, the embedded store),
   * so clients can compare the two. Every adapter's store verifies a part's `Content-MD5` header either way.
   */
  readonly partETagsAreMd5: boolean;
  /** The origin of the URLs this store hands to clients (parts, downloads): pages must be allowed to reach it. */
  readonly urlOrigin: string;
  /** Starts a multipart upload of `key`; returns the store's upload id. */
  createMultipartUpload(key: string, object: ObjectMetadata): Promise<string>;
  /**
   * Presigned PUT URLs for the given parts, in the same order, valid for `expiresInSeconds`. Each URL binds its
   * part's planned size: the store refuses a body of any other length (S3: `content-length` is a signed header).
   */
  presignUploadParts(
    key: string,
    uploadId: string,
    parts: readonly PlannedPart[],
    expiresInSeconds: number,
  ): Promise<string[]>;
  /** Every stored part of the upload, ascending by part number. */
  listParts(key: string, uploadId: string): Promise<StoredPartInfo[]>;
  /** Assembles the listed parts (ascending) into the object. */
  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void>;
  /** Discards the upload and its parts. */
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /**
   * A presigned PUT URL storing the whole object `key` in one request (a single-PUT upload), valid for
   * `expiresInSeconds`, and the headers its request must send. It binds the object's exact size: the store refuses a
   * body of another length, and stores nothing partial. It stores once: once an object exists at `key`, a PUT to it is
   * refused (412; `If-None-Match: *` on S3, among the headers) and the stored bytes stay as they are; of two PUTs at
   * once exactly one stores. No header the request adds can make the object readable without a signed URL (S3: the
   * canned ACL is among the signed headers).
   */
  presignPutObject(key: string, object: SinglePutObject, expiresInSeconds: number): Promise<SignedPut>;
  /**
   * A presigned GET URL of a stored object, answering with the `options`' type and disposition whatever the object
   * was stored with (a single PUT's object carries what its request sent).
   */
  presignDownload(key: string, expiresInSeconds: number, options?: DownloadOptions): Promise<string>;

  /** The size in bytes of a stored object (a completed upload); `undefined` when there is none. */
  objectSize(key: string): Promise<number | undefined>;
  /** A stored object's size, metadata and stored headers (a single PUT's object, checked); `undefined` when none. */
  objectHead(key: string): Promise<ObjectHead | undefined>;

  /**
   * Up to `length` bytes of the stored object `key` from byte `offset` (S3: `GetObject` with `Range`): fewer at the
   * object's end, none from its end on; `undefined` when there is no object. For small reads (at most
   * `MAX_RANGE_READ` bytes, a `RangeError` beyond): what inspects an object reads pieces of it, never all of it.
   */
  readObjectRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined>;
  /**
   * Every byte of the stored object `key`, in order, as it arrives (S3: one `GetObject`), and its size; `undefined`
   * when there is no object. For a reader that needs all of it (the whole-file hash) without holding it: the chunks
   * are pulled, so a slow consumer slows the read (backpressure) and memory stays at a chunk or two whatever the
   * object's size. Ending the iteration early ends the read. A read that fails midway throws from the iteration.
   */
  streamObject(key: string): Promise<ObjectStream | undefined>;
  /** Deletes an object; deleting a missing object is not an error. */
  deleteObject(key: string): Promise<void>;
  /**
   * Moves the stored object `fromKey` to `toKey` (a rejected upload into quarantine): the same bytes, size, type,
   * disposition and metadata at `toKey`, nothing left at `fromKey`. An object at `toKey` is replaced, as a PUT or a
   * rename replaces it. Answers `false`, changing nothing, when there is no object at `fromKey` (never moved, or
   * moved already: a move sent again after a lost reply is harmless), and `true` once it is moved.
   *
   * One operation rather than `copyObject` + `deleteObject`, so that each adapter does it its own safest way: the
   * embedded store links the files and renames (no byte copied, at no point the object at neither key), S3 copies on
   * the store's side and then deletes. Either way a move that fails part-way leaves the object at `fromKey` (and
   * maybe at `toKey` too), never at neither: sent again, it finishes. Of two moves of one object at once, the object
   * ends at `toKey` whole and neither fails; on the embedded and in-memory stores exactly one answers `true`, on S3
   * both may.
   */
  moveObject(fromKey: string, toKey: string): Promise<boolean>;
  /** Throws a `StorageError` with reason `unavailable` when the store cannot serve requests. */
  checkReady(): Promise<void>;
}
