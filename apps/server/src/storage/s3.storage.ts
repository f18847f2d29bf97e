import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { SigV4Presigner, type PresignCredentials, type SinglePutAcl } from "./sigv4-presigner";
import {
  checkRange,
  MAX_RANGE_READ,
  StorageError,
  type CompletedPart,
  type DownloadOptions,
  type KeyPage,
  type ObjectHead,
  type ObjectMetadata,
  type ObjectStream,
  type PlannedPart,
  type SignedPut,
  type SinglePutObject,
  type Storage,
  type StoredDocument,
  type StoredPartInfo,
  type WriteConditions,
  type WrittenDocument,
  wrote,
} from "./storage.port";
import { unquoteETag } from "./etag";
import { toStorageError } from "./s3-errors";
import { S3ObjectMove, type S3MoveOptions } from "./s3-object-move";
import { S3_STORAGE_BRAND } from "./s3-storage.brand";

export { toStorageError } from "./s3-errors";

export interface S3StorageOptions extends S3MoveOptions {
  bucket: string;
  region: string;
  /** Where the server reaches S3; the AWS default when omitted. */
  endpoint?: string;
  /** Where clients reach S3, if by another name: presigned URLs are signed for this host. */
  publicEndpoint?: string;
  forcePathStyle: boolean;
  /** Static credentials; without them the AWS SDK's default provider chain (profiles, roles, ...) is used. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Whether the bucket's part ETags are MD5s (false with SSE-KMS or SSE-C); default true. */
  eTagsAreMd5?: boolean;
  /** The canned ACL single-PUT URLs sign: `bucket-owner-full-control` (default), `private` (R2), or `none`. */
  singlePutAcl?: SinglePutAcl;
}

/** The header that stores an object encrypted with the client's own key (SSE-C). */
const SSE_C_HEADER = "x-amz-server-side-encryption-customer-algorithm";

/** URLs signed between two turns of the event loop (~1-3 ms of work). */
const PRESIGN_SLICE = 500;

/**
 * Options every client of ours uses. `WHEN_REQUIRED` matters for presigning: since SDK 3.729 the default
 * (`WHEN_SUPPORTED`) signs a CRC32 of an empty body into UploadPart URLs, which real S3 then checks against the part
 * and rejects. It also keeps the record writes free of checksum headers some S3-compatible stores refuse.
 */
export function s3ClientConfig(options: S3StorageOptions, endpoint: string | undefined): S3ClientConfig {
  return {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 30_000 },
    ...(endpoint ? { endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
}

/**
 * The `Storage` port on any S3-compatible store, both halves in one bucket (the `ObjectStore`'s uploaded objects, and
 * the `DocumentStore`'s JSON documents: objects too, written with conditional PUTs). The gateway never sees the bytes:
 * clients PUT parts to S3 at URLs signed by `SigV4Presigner` (the SDK's own presigning is ~60× slower, too slow for
 * 10,000-part starts), which sign each part's planned length, so S3 itself refuses a body of any other size.
 */
export class S3Storage implements Storage {
  readonly [S3_STORAGE_BRAND] = true;
  private readonly client: S3Client;
  private readonly presigner: SigV4Presigner;
  readonly urlOrigin: string;
  private readonly bucket: string;
  readonly partETagsAreMd5: boolean;
  private readonly mover: S3ObjectMove;

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    this.partETagsAreMd5 = options.eTagsAreMd5 ?? true;
    this.client = new S3Client(s3ClientConfig(options, options.endpoint));
    this.presigner = new SigV4Presigner({ ...options, endpoint: options.publicEndpoint ?? options.endpoint });
    this.urlOrigin = this.presigner.origin;
    this.mover = new S3ObjectMove(this.client, this.bucket, options);
  }

  async createMultipartUpload(key: string, object: ObjectMetadata): Promise<string> {
    const command = new CreateMultipartUploadCommand({
      Bucket: this.bucket,
      Key: key,
      ContentType: object.contentType,
      ContentDisposition: object.contentDisposition,
      Metadata: object.metadata,
    });
    const out = await this.call(() => this.client.send(command));
    if (!out.UploadId) throw new StorageError("unavailable", "S3 returned no UploadId");
    return out.UploadId;
  }

  async presignUploadParts(
    key: string,
    uploadId: string,
    parts: readonly PlannedPart[],
    expiresInSeconds: number,
  ): Promise<string[]> {
    const credentials = await this.credentials();
    const urls: string[] = [];
    for (let i = 0; i < parts.length; i += PRESIGN_SLICE) {
      // Give other requests a turn between slices: 10,000 URLs would otherwise hold the event loop for tens of ms.
      if (i > 0) await yieldToEventLoop();
      const slice = parts.slice(i, i + PRESIGN_SLICE);
      urls.push(...this.presigner.presignUploadParts(credentials, key, uploadId, slice, expiresInSeconds));
    }
    return urls;
  }

  async listParts(key: string, uploadId: string): Promise<StoredPartInfo[]> {
    const parts: StoredPartInfo[] = [];
    let marker: string | undefined;
    // S3 returns at most 1,000 parts a page; an upload can have 10,000.
    for (;;) {
      const command = new ListPartsCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumberMarker: marker,
      });
      const page = await this.call(() => this.client.send(command));
      for (const part of page.Parts ?? []) {
        if (part.PartNumber === undefined || part.ETag === undefined || part.Size === undefined) continue;
        parts.push({ partNumber: part.PartNumber, eTag: part.ETag, size: part.Size });
      }
      if (!page.IsTruncated || page.NextPartNumberMarker === undefined) break;
      marker = page.NextPartNumberMarker;
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    const command = new CompleteMultipartUploadCommand({
      Bucket: this.bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.eTag })) },
    });
    try {
      await this.call(() => this.client.send(command));
    } catch (error) {
      // Ceph RGW answers completing an aborted upload with a 500 instead of NoSuchUpload: ask whether it still exists.
      if (error instanceof StorageError && error.reason === "unavailable") {
        await this.listParts(key, uploadId);
      }
      throw error;
    }
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    const command = new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId });
    await this.call(() => this.client.send(command));
  }

  /**
   * Signs `If-None-Match: *` (S3 refuses the PUT with 412 once the object exists, so the URL stores once) and the
   * canned ACL (no added header can make the object public); the request sends both, as `headers` says.
   */
  async presignPutObject(key: string, object: SinglePutObject, expiresInSeconds: number): Promise<SignedPut> {
    const url = this.presigner.presignPutObject(await this.credentials(), key, object, expiresInSeconds);
    return { url, headers: this.presigner.singlePutHeaders };
  }

  async presignDownload(key: string, expiresInSeconds: number, options: DownloadOptions = {}): Promise<string> {
    return this.presigner.presignGetObject(await this.credentials(), key, expiresInSeconds, new Date(), options);
  }

  /** Credentials from the SDK's default chain, which caches them and refreshes them before they expire. */
  private async credentials(): Promise<PresignCredentials> {
    try {
      return await this.client.config.credentials();
    } catch (error) {
      throw new StorageError("unavailable", `No S3 credentials: ${(error as Error).message}`, { cause: error });
    }
  }

  async readJson(key: string): Promise<unknown> {
    return (await this.readDocument(key))?.value;
  }

  async readDocument(key: string): Promise<StoredDocument | undefined> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: key });
    try {
      const out = await this.client.send(command);
      const text = await out.Body?.transformToString("utf8");
      if (text === undefined || out.ETag === undefined) return undefined;
      return { value: JSON.parse(text) as unknown, version: unquoteETag(out.ETag) };
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === "NoSuchKey") return undefined;
      throw toStorageError(error);
    }
  }

  writeJson(key: string, value: unknown, options?: WriteConditions): Promise<boolean> {
    return wrote(this.writeDocument(key, value, options));
  }

  async writeDocument(key: string, value: unknown, when: WriteConditions = {}): Promise<WrittenDocument | undefined> {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: JSON.stringify(value),
      ContentType: "application/json",
      ...(when.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
      // Unquoted: Ceph RGW compares If-Match with the bare ETag and answers 412 to the quoted form, always.
      ...(when.ifMatch !== undefined ? { IfMatch: unquoteETag(when.ifMatch) } : {}),
    });
    const conditional = when.ifNoneMatch === true || when.ifMatch !== undefined;
    try {
      const out = await this.client.send(command);
      // The ETag a GET of this version answers (a PUT's is the MD5 of its body, unquoted like readDocument's).
      return out.ETag ? { version: unquoteETag(out.ETag) } : {};
    } catch (error) {
      // 412: the condition failed. 409: a concurrent conditional write to the same key won the race. 404: If-Match on
      // a key that does not exist (AWS; RGW answers 412).
      const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
      if (conditional && (status === 412 || status === 409 || (when.ifMatch !== undefined && status === 404))) {
        return undefined;
      }
      throw toStorageError(error);
    }
  }

  async objectSize(key: string): Promise<number | undefined> {
    const command = new HeadObjectCommand({ Bucket: this.bucket, Key: key });
    try {
      return (await this.client.send(command)).ContentLength;
    } catch (error) {
      // HEAD has no body, so the SDK cannot name the error: a 404 is a missing object.
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return undefined;
      throw toStorageError(error);
    }
  }

  async objectHead(key: string): Promise<ObjectHead | undefined> {
    const command = new HeadObjectCommand({ Bucket: this.bucket, Key: key });
    try {
      const out = await this.client.send(command);
      // Not Cache-Control, Content-Disposition and Content-Type: download URLs set those (Node's fetch sends
      // `Cache-Control: no-cache` with every request, which S3 then keeps).
      const stored: Record<string, string | undefined> = {
        "content-encoding": out.ContentEncoding,
        "content-language": out.ContentLanguage,
        // The raw header: the SDK's `Expires` is undefined for a value that is not a date, which browsers still read.
        expires: out.ExpiresString ?? out.Expires?.toUTCString(),
        "x-amz-website-redirect-location": out.WebsiteRedirectLocation,
      };
      return {
        size: out.ContentLength ?? 0,
        metadata: out.Metadata ?? {},
        storedHeaders: Object.fromEntries(
          Object.entries(stored).filter((entry): entry is [string, string] => !!entry[1]),
        ),
      };
    } catch (error) {
      const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
      if (status === 404) return undefined;
      // S3 answers 400 to a HEAD without the key of an object stored with SSE-C (a single PUT adding the customer-key
      // headers its URL does not sign, where the store honours them): an object that only its uploader can read.
      if (status === 400) return { size: Number.NaN, metadata: {}, storedHeaders: { [SSE_C_HEADER]: "" } };
      throw toStorageError(error);
    }
  }

  async readObjectRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    checkRange(offset, length);
    // `bytes=N-(N-1)` is no range: a read of nothing only says whether the object exists.
    if (length === 0) return (await this.objectSize(key)) === undefined ? undefined : new Uint8Array(0);
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Range: `bytes=${offset}-${offset + length - 1}`,
    });
    try {
      const out = await this.client.send(command);
      if (out.ContentRange === undefined && (out.ContentLength ?? 0) > MAX_RANGE_READ) {
        // The store ignored the Range and sends the whole object: too large to take in to cut a piece from.
        await out.Body?.transformToWebStream().cancel();
        throw new StorageError("unavailable", `S3 ignored the Range of a read of ${key}`);
      }
      const bytes = (await out.Body?.transformToByteArray()) ?? new Uint8Array(0);
      // A 200 without Content-Range is the whole (small) object: cut the asked piece from it.
      return out.ContentRange === undefined ? bytes.subarray(offset, offset + length) : bytes;
    } catch (error) {
      if (error instanceof S3ServiceException) {
        if (error.name === "NoSuchKey") return undefined;
        // 416: the range starts at or past the object's end (S3 and RGW answer it for an empty object too).
        if (error.$metadata.httpStatusCode === 416 || error.name === "InvalidRange") return new Uint8Array(0);
      }
      throw toStorageError(error);
    }
  }

  /** One `GetObject` of the whole object; its body is the socket's stream, read as fast as it is consumed. */
  async streamObject(key: string): Promise<ObjectStream | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = out.Body as (AsyncIterable<Uint8Array> & { destroy?(): void }) | undefined;
      if (out.ContentLength === undefined) {
        body?.destroy?.();
        throw new StorageError("unavailable", `S3 answered a read of ${key} without its length`);
      }
      return { size: out.ContentLength, chunks: body ? failingAsStorageErrors(body, key) : emptyChunks() };
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === "NoSuchKey") return undefined;
      throw toStorageError(error);
    }
  }

  async deleteObject(key: string): Promise<void> {
    const command = new DeleteObjectCommand({ Bucket: this.bucket, Key: key });
    await this.call(() => this.client.send(command));
  }

  /** A copy on S3's side, then a delete of the source (s3-object-move.ts). */
  moveObject(fromKey: string, toKey: string): Promise<boolean> {
    return this.mover.move(fromKey, toKey);
  }

  /** A document is an object of the bucket like any other. */
  deleteDocument(key: string): Promise<void> {
    return this.deleteObject(key);
  }

  async listKeys(prefix: string, options: { startAfter?: string; limit: number }): Promise<KeyPage> {
    const command = new ListObjectsV2Command({
      Bucket: this.bucket,
      Prefix: prefix,
      StartAfter: options.startAfter,
      MaxKeys: options.limit,
    });
    const out = await this.call(() => this.client.send(command));
    const keys = (out.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
    return { keys, isTruncated: out.IsTruncated === true };
  }

  async checkReady(): Promise<void> {
    const command = new HeadBucketCommand({ Bucket: this.bucket });
    await this.call(() => this.client.send(command));
  }

  destroy(): void {
    this.client.destroy();
  }

  /** Runs an S3 request, turning S3's expected failures and outages into `StorageError`s. */
  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw toStorageError(error);
    }
  }
}

/** An empty object's bytes: none. */
async function* emptyChunks(): AsyncGenerator<Uint8Array> {}

/** A body's chunks, a failure midway (a connection reset) reported as the port's `unavailable`, as any other read's. */
async function* failingAsStorageErrors(body: AsyncIterable<Uint8Array>, key: string): AsyncGenerator<Uint8Array> {
  try {
    yield* body; // a consumer's early stop returns through here, ending the body's read
  } catch (error) {
    throw new StorageError("unavailable", `The read of ${key} failed midway: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
