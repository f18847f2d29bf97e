import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { MIN_PART_SIZE } from "@upload-gateway/contract";
import { unquoteETag } from "./etag";
import type { SignedGrant } from "./local-url-signer";
import { turn } from "./memory-turn";
import type { ServedStore, StoredObject, WriteObjectOptions } from "./served-store";
import { ServedUrls } from "./served-urls";
import {
  checkRange,
  type CompletedPart,
  type DownloadOptions,
  type ObjectHead,
  type ObjectMetadata,
  type PlannedPart,
  type SignedPut,
  type SinglePutObject,
  type ObjectStore,
  type ObjectStream,
  type StoredPartInfo,
} from "./object-store.port";
import { StorageError } from "./storage-error";

export interface MemoryObjectStoreOptions {
  /**
   * Base URL its signed URLs point at. They have the embedded store's layout (`/storage/uploads/...`,
   * `/storage/objects/...`), so the same routes serve them (local-store-http's handlers). Default
   * `http://127.0.0.1` (URLs nobody serves: enough for code that only hands them out).
   */
  publicUrl?: string;
  /** Key for the URLs' HMAC signatures; random by default. */
  signingSecret?: Buffer;
  /** The smallest part but the last that completing accepts (default 5 MiB, as S3); tests lower it. */
  minPartSize?: number;
}

interface Part {
  bytes: Buffer;
  eTag: string;
}

interface Upload {
  key: string;
  object: ObjectMetadata;
  parts: Map<number, Part>;
}

interface StoredBlob {
  bytes: Buffer;
  object: ObjectMetadata;
}

/** The chunks `streamObject` yields: as small as a socket's reads, so consumers see more than one. */
const MEMORY_STREAM_CHUNK = 64 * 1024;

/**
 * The `ObjectStore` port in memory, with S3's semantics: a real adapter, held to the same conformance suite as the
 * embedded and S3 stores (test/storage.conformance.test.ts), for unit tests of what is built on the port (the upload
 * workflow) and for development without a disk. Nothing survives the process; one process sees it.
 *
 * Every operation starts on a later turn of the event loop, as a store's reply would, then does its checks and its
 * change in one synchronous step (no await in between), so each is atomic against every other: a listing sees all of
 * an upload's parts or none, a complete freezes the parts it checked. A part or object PUT reads its whole body first
 * and is stored (or refused) only once the body is whole.
 */
export class MemoryObjectStore implements ObjectStore, ServedStore {
  readonly partETagsAreMd5 = true;
  readonly urlOrigin: string;
  private readonly urls: ServedUrls;
  private readonly minPartSize: number;
  private readonly uploads = new Map<string, Upload>();
  private readonly blobs = new Map<string, StoredBlob>();

  constructor(options: MemoryObjectStoreOptions = {}) {
    this.urls = new ServedUrls(options.publicUrl ?? "http://127.0.0.1", options.signingSecret ?? randomBytes(32));
    this.urlOrigin = this.urls.urlOrigin;
    this.minPartSize = options.minPartSize ?? MIN_PART_SIZE;
  }

  async createMultipartUpload(key: string, object: ObjectMetadata): Promise<string> {
    await turn();
    const uploadId = randomBytes(16).toString("hex");
    this.uploads.set(uploadId, { key, object: structuredClone(object), parts: new Map() });
    return uploadId;
  }

  async presignUploadParts(
    key: string,
    uploadId: string,
    parts: readonly PlannedPart[],
    expiresInSeconds: number,
  ): Promise<string[]> {
    await turn();
    return this.urls.partUrls(key, uploadId, parts, expiresInSeconds);
  }

  async presignPutObject(key: string, object: SinglePutObject, expiresInSeconds: number): Promise<SignedPut> {
    await turn();
    return this.urls.putObjectUrl(key, object, expiresInSeconds);
  }

  /** The download answers with the type the object was stored with: here always the one its URL set. */
  async presignDownload(key: string, expiresInSeconds: number, options: DownloadOptions = {}): Promise<string> {
    await turn();
    return this.urls.downloadUrl(key, expiresInSeconds, options);
  }

  verifyGrant(grant: SignedGrant, signature: string): "ok" | "expired" | "invalid" {
    return this.urls.verifyGrant(grant, signature);
  }

  async writePart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    options: { expectedSize: number; declaredLength?: number; contentMd5?: Buffer },
  ): Promise<StoredPartInfo> {
    const { expectedSize, declaredLength } = options;
    if (declaredLength !== undefined && declaredLength !== expectedSize) throw wrongSize(declaredLength, expectedSize);
    this.upload(key, uploadId);
    const bytes = await receive(body, expectedSize, options.contentMd5);
    // Looked up again: an abort or a complete while the body arrived leaves no upload to store it in.
    const part = { bytes, eTag: md5ETag(bytes) };
    this.upload(key, uploadId).parts.set(partNumber, part);
    return { partNumber, eTag: part.eTag, size: bytes.length };
  }

  async writeObject(key: string, body: Readable, options: WriteObjectOptions): Promise<{ eTag: string; size: number }> {
    const { expectedSize, declaredLength } = options;
    if (declaredLength !== undefined && declaredLength !== expectedSize) throw wrongSize(declaredLength, expectedSize);
    if (this.blobs.has(key)) throw objectExists(); // before the body is read for nothing; checked again below
    const bytes = await receive(body, expectedSize, options.contentMd5);
    if (this.blobs.has(key)) throw objectExists();
    // The PUT carries no name: downloads are attachments, named by their URL's signed disposition.
    const { contentType, metadata = {} } = options;
    const object = { contentType, contentDisposition: "attachment", metadata };
    this.blobs.set(key, { bytes, object });
    return { eTag: md5ETag(bytes), size: bytes.length };
  }

  async listParts(key: string, uploadId: string): Promise<StoredPartInfo[]> {
    await turn();
    const { parts } = this.upload(key, uploadId);
    const listed = [...parts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([partNumber, part]) => ({ partNumber, eTag: part.eTag, size: part.bytes.length }));
    return listed;
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    await turn();
    const upload = this.upload(key, uploadId);
    const chosen = parts.map((part, index) => {
      const previous = parts[index - 1];
      if (previous && previous.partNumber >= part.partNumber) {
        throw new StorageError("invalid-part-order", "Parts must be listed in ascending order.");
      }
      const stored = upload.parts.get(part.partNumber);
      if (!stored || stored.eTag !== `"${unquoteETag(part.eTag)}"`) {
        throw new StorageError("invalid-part", `Part ${part.partNumber} is not stored or its eTag does not match.`);
      }
      if (index < parts.length - 1 && stored.bytes.length < this.minPartSize) {
        throw new StorageError(
          "part-too-small",
          `Part ${part.partNumber} is ${stored.bytes.length} bytes; all but the last must be at least ` +
            `${this.minPartSize}.`,
        );
      }
      return stored.bytes;
    });
    this.uploads.delete(uploadId);
    this.blobs.set(key, { bytes: Buffer.concat(chosen), object: upload.object });
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await turn();
    this.upload(key, uploadId);
    this.uploads.delete(uploadId);
  }

  /** A stored object's headers and reader, for the routes serving its download URLs; undefined when there is none. */
  async openObject(key: string): Promise<StoredObject | undefined> {
    await turn();
    const blob = this.blobs.get(key);
    if (!blob) return undefined;
    const { bytes, object } = blob;
    return {
      size: bytes.length,
      contentType: object.contentType,
      contentDisposition: object.contentDisposition,
      metadata: { ...object.metadata },
      read: (start, end) => Readable.from([bytes.subarray(start, end + 1)]),
    };
  }

  async objectSize(key: string): Promise<number | undefined> {
    await turn();
    return this.blobs.get(key)?.bytes.length;
  }

  async readObjectRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    checkRange(offset, length);
    await turn();
    const bytes = this.blobs.get(key)?.bytes;
    return (
      bytes &&
      Uint8Array.prototype.slice.call(bytes, Math.min(offset, bytes.length), Math.min(offset + length, bytes.length))
    );
  }

  async streamObject(key: string): Promise<ObjectStream | undefined> {
    await turn();
    const bytes = this.blobs.get(key)?.bytes;
    if (!bytes) return undefined;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let offset = 0; offset < bytes!.length; offset += MEMORY_STREAM_CHUNK) {
        await turn();
        yield Uint8Array.prototype.slice.call(bytes, offset, offset + MEMORY_STREAM_CHUNK);
      }
    }
    return { size: bytes.length, chunks: chunks() };
  }

  /** No header a client chose is ever kept here (the URL sets what the object gets), as on the embedded store. */
  async objectHead(key: string): Promise<ObjectHead | undefined> {
    await turn();
    const blob = this.blobs.get(key);
    return blob && { size: blob.bytes.length, metadata: blob.object.metadata ?? {}, storedHeaders: {} };
  }

  async deleteObject(key: string): Promise<void> {
    await turn();
    this.blobs.delete(key);
  }

  /** In one synchronous step: of two moves of one object at once, the first moves it and the second finds none. */
  async moveObject(fromKey: string, toKey: string): Promise<boolean> {
    await turn();
    const blob = this.blobs.get(fromKey);
    if (!blob) return false;
    this.blobs.delete(fromKey);
    this.blobs.set(toKey, blob);
    return true;
  }

  async checkReady(): Promise<void> {
    await turn();
  }

  /** The upload `uploadId` of `key`, or `upload-not-found` (completed, aborted, or never made). */
  private upload(key: string, uploadId: string): Upload {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.key !== key) {
      throw new StorageError("upload-not-found", "The upload does not exist in storage (it was completed or aborted).");
    }
    return upload;
  }
}

/**
 * A PUT's whole body, exactly `expectedSize` bytes (refused as soon as it is longer, or when it ends short) and
 * matching `contentMd5` when given.
 */
async function receive(body: Readable, expectedSize: number, contentMd5: Buffer | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > expectedSize) throw wrongSize(received, expectedSize); // leaving the loop ends the body
    chunks.push(chunk);
  }
  if (received < expectedSize) throw wrongSize(received, expectedSize);
  const bytes = Buffer.concat(chunks);
  if (contentMd5 && !createHash("md5").update(bytes).digest().equals(contentMd5)) {
    throw new StorageError("bad-digest", "The part's bytes do not match its Content-MD5 header.");
  }
  return bytes;
}

function md5ETag(bytes: Buffer): string {
  return `"${createHash("md5").update(bytes).digest("hex")}"`;
}

function wrongSize(size: number, expected: number): StorageError {
  return size > expected
    ? new StorageError("part-too-large", `The part is larger than the ${expected} bytes its URL was signed for.`)
    : new StorageError("part-size-mismatch", `The part is ${size} bytes; its URL was signed for exactly ${expected}.`);
}

function objectExists(): StorageError {
  return new StorageError("object-exists", "The file is stored already: a single-PUT URL stores it once.");
}
