import { LocalBlobs } from "./local-blobs";
import type { LocalDataDir } from "./local-data-dir";
import { LocalMultipart } from "./local-multipart";
import { LocalPartReceiver } from "./local-part-receiver";
import type { SignedGrant } from "./local-url-signer";
import type {
  CompletedPart,
  DownloadOptions,
  ObjectHead,
  ObjectMetadata,
  ObjectStore,
  ObjectStream,
  PlannedPart,
  SignedPut,
  SinglePutObject,
  StoredPartInfo,
} from "./object-store.port";
import type { ServedStore, StoredObject } from "./served-store";
import { ServedUrls } from "./served-urls";

export interface LocalObjectStoreOptions {
  /** Base URL clients reach the gateway at; part and download URLs point here. */
  publicUrl: string;
  /** Key for the URLs' HMAC signatures. */
  signingSecret: Buffer;
  /**
   * `fsync` each part (and the directory entry naming it) before answering its PUT (default true). Off, a part
   * survives the process being killed but not the machine losing power before the kernel writes it back (~30 s).
   */
  durable?: boolean;
  /**
   * `"opaque"` makes part ETags 32 hex digits that are NOT the part's MD5, as S3 answers with SSE-KMS: for testing
   * clients against such stores. Default `"md5"`, as S3 without KMS.
   */
  eTags?: "md5" | "opaque";
  /** The smallest part but the last that completing accepts (default 5 MiB, as S3); tests lower it. */
  minPartSize?: number;
}

/**
 * The `ObjectStore` port on the local disk, with S3's semantics: parts are PUT to signed URLs (served by the
 * local-store-http module), ETags are the parts' MD5, completing checks eTags and the 5 MiB rule, aborting removes
 * everything.
 *
 * Completing copies nothing. Each part is its own file, and a completed object is the directory of its part files plus
 * a manifest listing them; downloads stream across the part files. This was chosen over writing parts at their offsets
 * into one preallocated file, because a part written in place can be neither replaced atomically (a second writer of
 * the same part, or one killed midway, would leave mixed or partial bytes inside an acknowledged object) nor kept
 * invisible until complete without writing it elsewhere first and copying it in. With one file per part, every state
 * change is one `rename`: the uploads in progress are local-multipart.ts, the completed objects local-blobs.ts.
 */
export class LocalObjectStore implements ObjectStore, ServedStore {
  readonly partETagsAreMd5: boolean;
  readonly urlOrigin: string;
  private readonly urls: ServedUrls;
  private readonly multipart: LocalMultipart;
  private readonly blobs: LocalBlobs;

  constructor(
    private readonly dataDir: LocalDataDir,
    options: LocalObjectStoreOptions,
  ) {
    this.urls = new ServedUrls(options.publicUrl, options.signingSecret);
    this.urlOrigin = this.urls.urlOrigin;
    this.partETagsAreMd5 = options.eTags !== "opaque";
    const parts = new LocalPartReceiver(dataDir, {
      durable: options.durable ?? true,
      opaqueETags: options.eTags === "opaque",
      signingSecret: options.signingSecret,
    });
    this.blobs = new LocalBlobs(dataDir, parts);
    this.multipart = new LocalMultipart(dataDir, parts, this.blobs, options.minPartSize);
  }

  createMultipartUpload(key: string, object: ObjectMetadata): Promise<string> {
    return this.multipart.create(key, object);
  }

  presignUploadParts(
    key: string,
    uploadId: string,
    parts: readonly PlannedPart[],
    expiresInSeconds: number,
  ): Promise<string[]> {
    return Promise.resolve(this.urls.partUrls(key, uploadId, parts, expiresInSeconds));
  }

  listParts(key: string, uploadId: string): Promise<StoredPartInfo[]> {
    return this.multipart.listParts(key, uploadId);
  }

  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    return this.multipart.complete(key, uploadId, parts);
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.multipart.abort(key, uploadId);
  }

  /**
   * The URL carries everything the object gets (size, type, metadata), signed, so the request needs no header: a PUT of
   * the body alone stores the file. Its `Content-Type`, if any, is not used. The store keeps one object per key and
   * refuses a PUT once it is stored (412), with or without `If-None-Match: *`.
   */
  presignPutObject(key: string, object: SinglePutObject, expiresInSeconds: number): Promise<SignedPut> {
    return Promise.resolve(this.urls.putObjectUrl(key, object, expiresInSeconds));
  }

  /** The download answers with the type the object was stored with: on this store always the one its URL set. */
  presignDownload(key: string, expiresInSeconds: number, options: DownloadOptions = {}): Promise<string> {
    return Promise.resolve(this.urls.downloadUrl(key, expiresInSeconds, options));
  }

  async objectSize(key: string): Promise<number | undefined> {
    return (await this.blobs.readManifest(key))?.size;
  }

  objectHead(key: string): Promise<ObjectHead | undefined> {
    return this.blobs.head(key);
  }

  readObjectRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.blobs.readRange(key, offset, length);
  }

  streamObject(key: string): Promise<ObjectStream | undefined> {
    return this.blobs.stream(key);
  }

  deleteObject(key: string): Promise<void> {
    return this.blobs.delete(key);
  }

  moveObject(fromKey: string, toKey: string): Promise<boolean> {
    return this.blobs.move(fromKey, toKey);
  }

  async checkReady(): Promise<void> {
    await this.dataDir.checkWritable();
  }

  // What the routes serving this store's URLs need (ServedStore).

  /** Checks a signed URL's grant; used by the part and download routes. */
  verifyGrant(grant: SignedGrant, signature: string): "ok" | "expired" | "invalid" {
    return this.urls.verifyGrant(grant, signature);
  }

  /** Stores one part from a PUT's body (LocalMultipart.writePart). */
  writePart(...part: Parameters<ServedStore["writePart"]>): Promise<StoredPartInfo> {
    return this.multipart.writePart(...part);
  }

  /** Stores a whole object from a single PUT's body, once (LocalBlobs.writeObject). */
  writeObject(...object: Parameters<ServedStore["writeObject"]>): ReturnType<ServedStore["writeObject"]> {
    return this.blobs.writeObject(...object);
  }

  /** A completed object's headers and reader, for the download route; undefined when there is none. */
  openObject(key: string): Promise<StoredObject | undefined> {
    return this.blobs.open(key);
  }
}
