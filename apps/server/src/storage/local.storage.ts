import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { MIN_PART_SIZE } from "@upload-gateway/contract";
import { LocalUrlSigner, type SignedGrant } from "./local-url-signer";
import {
  StorageError,
  type CompletedPart,
  type KeyPage,
  type ObjectMetadata,
  type PlannedPart,
  type Storage,
  type StoredDocument,
  type StoredPartInfo,
  type WriteConditions,
} from "./storage.port";
import { KeyedMutex } from "./keyed-mutex";
import { unquoteETag } from "./etag";

export interface LocalStorageOptions {
  /** Where data, parts and records live; survives restarts. */
  dir: string;
  /** Base URL clients reach the gateway at; part and download URLs point here. */
  publicUrl: string;
  /** Key for the URLs' HMAC signatures. */
  signingSecret: Buffer;
}

export interface StoredObject {
  path: string;
  size: number;
  contentType: string;
  contentDisposition: string;
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;
const PART_FILE = /^part-(\d{5})-([0-9a-f]{32})$/;

/** A stored part's file name, which carries its MD5 so that one rename stores both atomically. */
function partFileName(partNumber: number, md5Hex: string): string {
  return `part-${String(partNumber).padStart(5, "0")}-${md5Hex}`;
}

/**
 * The `Storage` port on the local disk, with S3's semantics: parts are PUT to signed URLs (served by the gateway's
 * `/storage` routes), ETags are the parts' MD5, completing checks eTags and the 5 MiB rule. Every write goes to a
 * temporary file that is renamed into place only when complete, so a crash never leaves a half-written part or
 * object visible.
 *
 *   objects/<key>                        objects and JSON records
 *   object-meta/<key>.json               content type and disposition of completed uploads
 *   multipart/<uploadId>/upload.json     the upload's key and metadata
 *   multipart/<uploadId>/part-NNNNN-<md5> a stored part
 *   tmp/                                 files being written
 */
export class LocalStorage implements Storage {
  private readonly signer: LocalUrlSigner;
  private readonly publicUrl: string;
  private readonly documentLocks = new KeyedMutex();

  constructor(private readonly options: LocalStorageOptions) {
    this.signer = new LocalUrlSigner(options.signingSecret);
    this.publicUrl = options.publicUrl.replace(/\/+$/, "");
  }

  async createMultipartUpload(key: string, object: ObjectMetadata): Promise<string> {
    const uploadId = randomBytes(16).toString("hex");
    const dir = this.uploadDir(uploadId);
    await this.io(() => mkdir(dir, { recursive: true }));
    await this.io(() => this.writeAtomically(join(dir, "upload.json"), JSON.stringify({ key, object })));
    return uploadId;
  }

  presignUploadParts(
    key: string,
    uploadId: string,
    parts: readonly PlannedPart[],
    expiresInSeconds: number,
  ): Promise<string[]> {
    const expires = unixNow() + expiresInSeconds;
    return Promise.resolve(
      parts.map(({ partNumber, size }) => {
        const grant: SignedGrant = { method: "PUT", key, uploadId, partNumber, size, expires };
        const query = new URLSearchParams({
          key,
          size: String(size),
          expires: String(expires),
          signature: this.signer.sign(grant),
        });
        return `${this.publicUrl}/storage/uploads/${uploadId}/parts/${partNumber}?${query.toString()}`;
      }),
    );
  }

  presignDownload(key: string, expiresInSeconds: number): Promise<string> {
    const expires = unixNow() + expiresInSeconds;
    const signature = this.signer.sign({ method: "GET", key, expires });
    const path = key.split("/").map(encodeURIComponent).join("/");
    return Promise.resolve(`${this.publicUrl}/storage/objects/${path}?expires=${expires}&signature=${signature}`);
  }

  /** Checks a signed URL's grant; used by the `/storage` routes. */
  verifyGrant(grant: SignedGrant, signature: string): "ok" | "expired" | "invalid" {
    return this.signer.verify(grant, signature);
  }

  /**
   * Stores one part from `body`, streaming it to a temporary file that is renamed into place only once complete.
   * The part must be exactly `expectedSize` bytes, the size its signed URL grants (as S3 refuses a body whose length
   * differs from a signed `content-length`): a declared length of another size is refused before anything is read, a
   * streamed body as soon as it exceeds the size or when it ends short of it. A refused part leaves no file behind.
   */
  async writePart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    expectedSize: number,
    declaredLength?: number,
  ): Promise<StoredPartInfo> {
    if (declaredLength !== undefined && declaredLength !== expectedSize) throw wrongPartSize(declaredLength, expectedSize);
    await this.readUpload(key, uploadId);
    const dir = this.uploadDir(uploadId);
    const temp = join(dir, `.tmp-${randomBytes(8).toString("hex")}`);
    const md5 = createHash("md5");
    let size = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (size > expectedSize) return callback(wrongPartSize(size, expectedSize));
        md5.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        callback(size < expectedSize ? wrongPartSize(size, expectedSize) : null);
      },
    });
    try {
      await pipeline(body, measure, createWriteStream(temp));
      await syncFile(temp);
      const eTagHex = md5.digest("hex");
      const name = partFileName(partNumber, eTagHex);
      await rename(temp, join(dir, name));
      // A part sent again replaces the earlier one.
      for (const other of await readdir(dir)) {
        if (other !== name && other.startsWith(partFileName(partNumber, ""))) await rm(join(dir, other), { force: true });
      }
      return { partNumber, eTag: `"${eTagHex}"`, size };
    } catch (error) {
      await rm(temp, { force: true });
      if (error instanceof StorageError) throw error;
      if (isMissing(error)) throw noSuchUpload(); // aborted while the part was being written
      throw error;
    }
  }

  async listParts(key: string, uploadId: string): Promise<StoredPartInfo[]> {
    await this.readUpload(key, uploadId);
    return this.storedParts(uploadId);
  }

  /** The stored parts of an upload already checked to exist, ascending; a part sent twice counts once (the newest). */
  private async storedParts(uploadId: string): Promise<StoredPartInfo[]> {
    const dir = this.uploadDir(uploadId);
    const byNumber = new Map<number, StoredPartInfo & { mtime: number }>();
    for (const name of await this.io(() => readdir(dir))) {
      const match = PART_FILE.exec(name);
      if (!match) continue; // upload.json, and temporary files of parts still being written (or cut off by a crash)
      const info = await stat(join(dir, name)).catch(() => undefined);
      if (!info) continue;
      const part = { partNumber: Number(match[1]), eTag: `"${match[2]}"`, size: info.size, mtime: info.mtimeMs };
      const seen = byNumber.get(part.partNumber);
      if (!seen || seen.mtime <= part.mtime) byNumber.set(part.partNumber, part);
    }
    return [...byNumber.values()]
      .sort((a, b) => a.partNumber - b.partNumber)
      .map(({ partNumber, eTag, size }) => ({ partNumber, eTag, size }));
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    const upload = await this.readUpload(key, uploadId);
    const stored = new Map((await this.storedParts(uploadId)).map((p) => [p.partNumber, p]));
    parts.forEach((part, index) => {
      const previous = parts[index - 1];
      if (previous && previous.partNumber >= part.partNumber) {
        throw new StorageError("invalid-part-order", "Parts must be listed in ascending order.");
      }
      const found = stored.get(part.partNumber);
      if (!found || unquoteETag(found.eTag) !== unquoteETag(part.eTag)) {
        throw new StorageError("invalid-part", `Part ${part.partNumber} is not stored or its eTag does not match.`);
      }
      if (index < parts.length - 1 && found.size < MIN_PART_SIZE) {
        throw new StorageError("part-too-small", `Part ${part.partNumber} is ${found.size} bytes; all but the last must be at least 5 MiB.`);
      }
    });

    const dir = this.uploadDir(uploadId);
    const temp = await this.tempPath();
    const out = createWriteStream(temp);
    try {
      for (const part of parts) {
        const found = stored.get(part.partNumber)!;
        const name = partFileName(part.partNumber, unquoteETag(found.eTag));
        await pipeline(createReadStream(join(dir, name)), out, { end: false });
      }
      await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
      await syncFile(temp);
      const target = this.objectPath(key);
      await mkdir(dirname(target), { recursive: true });
      await this.writeAtomically(this.metaPath(key), JSON.stringify(upload.object));
      await rename(temp, target);
    } catch (error) {
      out.destroy();
      await rm(temp, { force: true });
      throw error;
    }
    await rm(dir, { recursive: true, force: true });
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.readUpload(key, uploadId);
    await this.io(() => rm(this.uploadDir(uploadId), { recursive: true, force: true }));
  }

  /** A completed object's file and headers, for the download route; undefined when there is none. */
  async openObject(key: string): Promise<StoredObject | undefined> {
    try {
      const path = this.objectPath(key);
      const [info, meta] = await Promise.all([stat(path), readFile(this.metaPath(key), "utf8")]);
      const object = JSON.parse(meta) as ObjectMetadata;
      return { path, size: info.size, contentType: object.contentType, contentDisposition: object.contentDisposition };
    } catch (error) {
      if (isMissing(error) || error instanceof StorageError) return undefined;
      throw error;
    }
  }

  async readJson(key: string): Promise<unknown> {
    return (await this.readDocument(key))?.value;
  }

  async readDocument(key: string): Promise<StoredDocument | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.objectPath(key));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.unavailable(error);
    }
    // Writes replace the file by a rename, so these bytes are one whole version; its MD5 is its version, like S3's ETag.
    return { value: JSON.parse(bytes.toString("utf8")) as unknown, version: documentVersion(bytes) };
  }

  /**
   * Every write and delete of a key runs under that key's lock, so a conditional write's check and its rename are one
   * step that no other write of the key can come between. The lock is this process's: the embedded store belongs to
   * one gateway process (its part and download URLs point at that process), which is the only writer of its directory.
   * Creating a document (`ifNoneMatch`) also uses link(), which fails if the target exists, so even two processes
   * could not both create it.
   */
  async writeJson(key: string, value: unknown, options: WriteConditions = {}): Promise<boolean> {
    const target = this.objectPath(key);
    const content = JSON.stringify(value);
    return this.documentLocks.run(target, async () => {
      await this.io(() => mkdir(dirname(target), { recursive: true }));
      if (options.ifMatch !== undefined) {
        const current = await this.readDocument(key);
        if (current?.version !== options.ifMatch) return false;
        if (options.ifNoneMatch) return false; // both conditions cannot hold: the document exists
      }
      if (!options.ifNoneMatch) {
        await this.io(() => this.writeAtomically(target, content));
        return true;
      }
      const temp = await this.tempPath();
      try {
        await writeFile(temp, content);
        await link(temp, target);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw this.unavailable(error);
      } finally {
        await rm(temp, { force: true });
      }
    });
  }

  async objectSize(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.objectPath(key))).size;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.unavailable(error);
    }
  }

  async deleteObject(key: string): Promise<void> {
    const target = this.objectPath(key);
    await this.documentLocks.run(target, async () => {
      await this.io(() => rm(target, { force: true }));
      await this.io(() => rm(this.metaPath(key), { force: true }));
    });
  }

  async listKeys(prefix: string, options: { startAfter?: string; limit: number }): Promise<KeyPage> {
    const base = prefix.slice(0, prefix.lastIndexOf("/") + 1);
    const keys = (await this.walk(base))
      .filter((k) => k.startsWith(prefix) && (options.startAfter === undefined || k > options.startAfter))
      .sort();
    return { keys: keys.slice(0, options.limit), isTruncated: keys.length > options.limit };
  }

  async checkReady(): Promise<void> {
    const probe = await this.tempPath();
    await this.io(async () => {
      await writeFile(probe, "ok");
      await unlink(probe);
    });
  }

  private async walk(base: string): Promise<string[]> {
    const dir = base === "" ? join(this.options.dir, "objects") : this.objectPath(base.replace(/\/$/, ""));
    let entries;
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw this.unavailable(error);
    }
    const root = join(this.options.dir, "objects") + sep;
    return entries
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(root.length).split(sep).join("/"));
  }

  private async readUpload(key: string, uploadId: string): Promise<{ key: string; object: ObjectMetadata }> {
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload();
    let upload: { key: string; object: ObjectMetadata };
    try {
      upload = JSON.parse(await readFile(join(this.uploadDir(uploadId), "upload.json"), "utf8")) as typeof upload;
    } catch (error) {
      if (isMissing(error)) throw noSuchUpload();
      throw this.unavailable(error);
    }
    if (upload.key !== key) throw noSuchUpload();
    return upload;
  }

  private uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload();
    return join(this.options.dir, "multipart", uploadId);
  }

  private objectPath(key: string): string {
    return join(this.options.dir, "objects", ...safeSegments(key));
  }

  private metaPath(key: string): string {
    return `${join(this.options.dir, "object-meta", ...safeSegments(key))}.json`;
  }

  private async tempPath(): Promise<string> {
    const dir = join(this.options.dir, "tmp");
    await this.io(() => mkdir(dir, { recursive: true }));
    return join(dir, randomBytes(12).toString("hex"));
  }

  private async writeAtomically(path: string, content: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const temp = await this.tempPath();
    await writeFile(temp, content);
    await rename(temp, path);
  }

  private async io<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  private unavailable(error: unknown): unknown {
    if (error instanceof StorageError) return error;
    const code = (error as NodeJS.ErrnoException).code;
    // The disk is full, read-only or not ours: nothing a client can fix, but an operator can.
    if (code && ["ENOSPC", "EROFS", "EACCES", "EPERM", "EIO", "EDQUOT"].includes(code)) {
      return new StorageError("unavailable", `local storage failed: ${code}`, { cause: error });
    }
    return error;
  }
}

/** A key's path segments, refusing any that could leave the storage directory. */
function safeSegments(key: string): string[] {
  const segments = key.split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\0") || s.includes("\\"))) {
    throw new Error(`unsafe storage key: ${JSON.stringify(key)}`);
  }
  return segments;
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}


function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

function documentVersion(bytes: Buffer): string {
  return createHash("md5").update(bytes).digest("hex");
}

function noSuchUpload(): StorageError {
  return new StorageError("upload-not-found", "The upload does not exist in storage (it was completed or aborted).");
}

/** A part body of `size` bytes (or at least that many, when refused midway) where its URL grants `expected`. */
function wrongPartSize(size: number, expected: number): StorageError {
  return size > expected
    ? new StorageError("part-too-large", `The part is larger than the ${expected} bytes its URL was signed for.`)
    : new StorageError("part-size-mismatch", `The part is ${size} bytes; its URL was signed for exactly ${expected}.`);
}
