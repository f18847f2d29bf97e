import { createHash, createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import type { Readable } from "node:stream";
import { MAX_PART_SIZE, MAX_SINGLE_PUT_SIZE, MIN_PART_SIZE } from "@upload-gateway/contract";
import { readObjectRange, type ObjectLayout } from "./local-object-reader";
import {
  closeFile,
  openFile,
  readPartHeader,
  receivePart,
  syncFile,
  type PartHeader,
  type ReceiveErrors,
} from "./local-part-file";
import { LocalUrlSigner, signedDownloadQuery, signedPutQuery, type SignedGrant } from "./local-url-signer";
import {
  checkRange,
  StorageError,
  type CompletedPart,
  type DownloadOptions,
  type KeyPage,
  type ObjectHead,
  type ObjectMetadata,
  type PlannedPart,
  type SignedPut,
  type SinglePutObject,
  type Storage,
  type StoredDocument,
  type StoredPartInfo,
  type WriteConditions,
} from "./storage.port";
import { KeyedMutex } from "./keyed-mutex";
import type { WriteObjectOptions } from "./served-store";
import { unquoteETag } from "./etag";

export interface LocalStorageOptions {
  /** Where data, parts and records live; survives restarts. */
  dir: string;
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
  /** Called with problems an operator should know about (a data dir other users can read). */
  warn?: (message: string) => void;
}

/** A completed object, for the download route: its headers, and a reader of any byte range. */
export interface StoredObject {
  size: number;
  contentType: string;
  contentDisposition: string;
  /** The object's metadata (`x-amz-meta-*` on S3). */
  metadata: Record<string, string>;
  /** Bytes `start` to `end`, inclusive. */
  read(start: number, end: number): Readable;
}

/** A completed object's record, kept next to its part files. */
interface Manifest {
  version: 2;
  key: string;
  uploadId: string;
  size: number;
  object: ObjectMetadata;
  parts: { file: string; size: number }[];
}

interface UploadInfo {
  key: string;
  object: ObjectMetadata;
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;
const PART_FILE = /^part-(\d{5})$/;
/**
 * Every directory and file the store makes is owner-only, given as the mode of each mkdir and open rather than left to
 * the process's umask (a umask only removes bits: with umask 0 a mode-less mkdir makes 0777).
 */
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/** How long an operation waits for a concurrent complete to commit or give the upload back. */
const CLOSING_WAIT_MS = 10_000;

/** A stored part's file name: one fixed name per part number, so that storing a part again replaces it by `rename`. */
function partFileName(partNumber: number): string {
  return `part-${String(partNumber).padStart(5, "0")}`;
}

/**
 * The `Storage` port on the local disk, with S3's semantics: parts are PUT to signed URLs (served by the
 * local-store-http module), ETags are the parts' MD5, completing checks eTags and the 5 MiB rule, aborting removes
 * everything.
 *
 * Completing copies nothing. Each part is its own file (a header with its size and MD5, then its bytes; see
 * local-part-file.ts), and a completed object is the directory of its part files plus a manifest listing them;
 * downloads stream across the part files. This was chosen over writing parts at their offsets into one preallocated
 * file, because a part written in place can be neither replaced atomically (a second writer of the same part, or one
 * killed midway, would leave mixed or partial bytes inside an acknowledged object) nor kept invisible until complete
 * without writing it elsewhere first and copying it in. With one file per part, every state change is one `rename`:
 *
 *   multipart/<uploadId>/upload.json    the upload's key and metadata         (created whole: a directory renamed in)
 *   multipart/<uploadId>/part-NNNNN     a stored part                         (a file renamed in from tmp/)
 *   closing/<uploadId>/                 an upload being completed: frozen, so no part changes while it is checked
 *   blobs/<hh>/<sha256(key)>/           a completed object: manifest.json and its part files (a single-PUT object:
 *                                       one part file, its directory made in tmp/ and renamed in whole)
 *   objects/<key>                       JSON documents
 *   tmp/                                files being written       trash/   directories being removed
 *
 * A part is written to tmp/ while it arrives (MD5 computed on the way) and renamed to its fixed name when whole, so a
 * reader sees the old part or the new one, never a partial one, and of concurrent writers of one part the last rename
 * wins with a whole body. Completing renames the upload's directory to closing/ (parts sent from then on find no
 * upload), checks the listed parts' headers, writes the manifest and renames the directory into blobs/: that rename is
 * the commit. A check that fails renames the directory back. Aborting renames the directory into trash/ before removing
 * it, so a part renamed in a moment later fails instead of re-creating the upload. After a crash, `closing/` is given
 * back to `multipart/` and `tmp/` and `trash/` are emptied when the store next starts: one process owns a data dir.
 */
export class LocalStorage implements Storage {
  readonly partETagsAreMd5: boolean;
  private readonly signer: LocalUrlSigner;
  private readonly publicUrl: string;
  private readonly durable: boolean;
  private readonly minPartSize: number;
  private readonly madeDirs = new Set<string>();
  readonly urlOrigin: string;
  private readonly documentLocks = new KeyedMutex();
  /**
   * The header of every part this process stored, by upload, so that listing and completing an upload need not read
   * each part file's header back from disk (320 parts: ~100 ms on a busy disk; see `partHeaders`). Exact: only this
   * process renames part files into its data dir (one process owns a data dir), renames of one part run one at a
   * time (`partRenames`) and each is recorded here before its lock is released, and completing waits for the renames
   * in flight (`renaming`) before it reads this. After a restart it is empty and headers come from disk.
   */
  private readonly storedHeaders = new Map<string, Map<number, PartHeader>>();
  private readonly partRenames = new KeyedMutex();
  private readonly renaming = new Map<string, Set<Promise<unknown>>>();

  constructor(private readonly options: LocalStorageOptions) {
    this.signer = new LocalUrlSigner(options.signingSecret);
    this.publicUrl = options.publicUrl.replace(/\/+$/, "");
    this.durable = options.durable ?? true;
    this.partETagsAreMd5 = options.eTags !== "opaque";
    this.minPartSize = options.minPartSize ?? MIN_PART_SIZE;
    this.prepareDataDir();
    this.urlOrigin = new URL(this.publicUrl).origin;
  }

  async createMultipartUpload(key: string, object: ObjectMetadata): Promise<string> {
    safeSegments(key);
    const uploadId = randomBytes(16).toString("hex");
    // Made in tmp/ and renamed into place whole: an upload never exists without its upload.json.
    const staging = await this.tempPath();
    await this.io(async () => {
      await mkdir(staging, { mode: DIR_MODE });
      await writeFile(join(staging, "upload.json"), JSON.stringify({ key, object } satisfies UploadInfo), {
        mode: FILE_MODE,
      });
      await mkdir(join(this.options.dir, "multipart"), { recursive: true, mode: DIR_MODE });
      await rename(staging, this.uploadDir(uploadId));
    });
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

  /**
   * The URL carries everything the object gets (size, type, metadata), signed, so the request needs no header: a PUT of
   * the body alone stores the file. Its `Content-Type`, if any, is not used. The store keeps one object per key and
   * refuses a PUT once it is stored (412), with or without `If-None-Match: *`.
   */
  presignPutObject(key: string, object: SinglePutObject, expiresInSeconds: number): Promise<SignedPut> {
    safeSegments(key);
    const query = signedPutQuery(this.signer, key, object, unixNow() + expiresInSeconds);
    return Promise.resolve({ url: `${this.objectUrl(key)}?${query.toString()}`, headers: {} });
  }

  /** The download answers with the type the object was stored with: on this store always the one its URL set. */
  presignDownload(key: string, expiresInSeconds: number, options: DownloadOptions = {}): Promise<string> {
    const query = signedDownloadQuery(this.signer, key, unixNow() + expiresInSeconds, options.contentDisposition);
    return Promise.resolve(`${this.objectUrl(key)}?${query.toString()}`);
  }

  private objectUrl(key: string): string {
    return `${this.publicUrl}/storage/objects/${key.split("/").map(encodeURIComponent).join("/")}`;
  }

  /** Checks a signed URL's grant; used by the part and download routes. */
  verifyGrant(grant: SignedGrant, signature: string): "ok" | "expired" | "invalid" {
    return this.signer.verify(grant, signature);
  }

  /**
   * Stores one part from `body`: streamed to a file in tmp/ (MD5 computed as it arrives) that is renamed to the part's
   * name only once whole, replacing an earlier copy of the part atomically. The part must be exactly `expectedSize`
   * bytes, the size its signed URL grants (as S3 refuses a body whose length differs from a signed `content-length`):
   * a declared length of another size is refused before anything is read, a streamed body as soon as it exceeds the
   * size or when it ends short of it. A body whose MD5 differs from `contentMd5` is refused too. A refused part leaves
   * no file behind.
   */
  async writePart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    options: { expectedSize: number; declaredLength?: number; contentMd5?: Buffer },
  ): Promise<StoredPartInfo> {
    // Errors of a body cut while the upload is looked up must not go unhandled; receivePart reports them.
    body.on("error", ignore);
    const { expectedSize, declaredLength } = options;
    if (declaredLength !== undefined && declaredLength !== expectedSize)
      throw wrongPartSize(declaredLength, expectedSize);
    await this.readUpload(key, uploadId);
    const temp = await this.tempPath();
    const fd = await this.io(() => openFile(temp, "wx", FILE_MODE));
    let header;
    try {
      header = await receivePart(
        fd,
        body,
        { expectedSize, maxSize: MAX_PART_SIZE, expectedMd5: options.contentMd5, durable: this.durable },
        RECEIVE_ERRORS,
      );
    } catch (error) {
      await closeFile(fd).catch(() => {});
      await rm(temp, { force: true });
      throw this.unavailable(error);
    }
    try {
      await this.io(() => closeFile(fd));
      const dir = this.uploadDir(uploadId);
      await this.whileOpen(uploadId, () => this.renamePart(uploadId, partNumber, temp, header));
      if (this.durable) await this.io(() => syncDir(dir));
    } catch (error) {
      await rm(temp, { force: true });
      // The upload's directory went between the part's rename and its sync: aborted (or completed) meanwhile.
      if (isMissing(error)) throw noSuchUpload();
      throw this.unavailable(error);
    }
    return { partNumber, eTag: this.eTagOf(header.md5), size: header.size };
  }

  /**
   * Stores a whole object from `body` (a single-PUT upload), with the semantics of S3's `PutObject` with
   * `If-None-Match: *`, as single-PUT URLs are signed: exactly `expectedSize` bytes (refused as a part is: a declared
   * length of another size before anything is read, a streamed body as soon as it exceeds the size or when it ends
   * short), checked against `contentMd5` when given, visible only once whole, and only if no object of the key exists
   * (else `object-exists`, before the body is read when the object is there already). The object is made as a
   * directory in tmp/ (one part file and its manifest) and renamed into place under the key's lock, where the check is
   * made again: of two PUTs at once exactly one stores, the other is refused. A refused body leaves nothing behind.
   * Returns the object's ETag (its MD5, as S3's for a single PUT) and size.
   */
  async writeObject(key: string, body: Readable, options: WriteObjectOptions): Promise<{ eTag: string; size: number }> {
    body.on("error", ignore);
    const { expectedSize, declaredLength } = options;
    if (declaredLength !== undefined && declaredLength !== expectedSize)
      throw wrongPartSize(declaredLength, expectedSize);
    safeSegments(key);
    // Refused at once rather than after gigabytes are read for nothing; checked again at the commit.
    if (await this.readManifest(key)) throw objectExists();
    const staging = await this.tempPath();
    const file = partFileName(1);
    try {
      await this.io(() => mkdir(staging, { mode: DIR_MODE }));
      const fd = await this.io(() => openFile(join(staging, file), "wx", FILE_MODE));
      let header;
      try {
        header = await receivePart(
          fd,
          body,
          { expectedSize, maxSize: MAX_SINGLE_PUT_SIZE, expectedMd5: options.contentMd5, durable: this.durable },
          RECEIVE_ERRORS,
        );
      } finally {
        await closeFile(fd).catch(() => {});
      }
      const manifest: Manifest = {
        version: 2,
        key,
        uploadId: "single-put",
        size: header.size,
        // The PUT carries no name: downloads are attachments, named by their URL's signed disposition.
        object: {
          contentType: options.contentType,
          contentDisposition: "attachment",
          metadata: options.metadata ?? {},
        },
        parts: [{ file, size: header.size }],
      };
      await this.io(() => writeFile(join(staging, "manifest.json"), JSON.stringify(manifest), { mode: FILE_MODE }));
      if (this.durable) await this.io(() => syncDir(staging));
      const target = this.blobDir(key);
      // Under the key's lock, as `deleteObject`: the check and the rename are one step no other PUT or delete of the
      // key comes between. The rename itself refuses a non-empty target too (ENOTEMPTY), whoever made it.
      await this.documentLocks.run(this.objectPath(key), async () => {
        if (await this.readManifest(key)) throw objectExists();
        await this.io(async () => {
          await mkdir(dirname(target), { recursive: true, mode: DIR_MODE });
          try {
            await rename(staging, target);
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code === "ENOTEMPTY" || code === "EEXIST") throw objectExists();
            throw error;
          }
          if (this.durable) await syncDir(dirname(target));
        });
      });
      return { eTag: this.eTagOf(header.md5), size: header.size };
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw this.unavailable(error);
    }
  }

  async listParts(key: string, uploadId: string): Promise<StoredPartInfo[]> {
    await this.readUpload(key, uploadId);
    const dir = this.uploadDir(uploadId);
    // A complete or an abort may rename the directory away between the readdir and the last header read. A part file
    // never goes on its own (a replacement is one rename), so a vanished one means the directory went: the listing
    // starts again once a complete in progress has committed or given the upload back, and fails as a missing upload
    // otherwise. Never a partial listing, never a raw ENOENT.
    return this.whileOpen(uploadId, async () => {
      const numbers = (await readdir(dir))
        .map((name) => PART_FILE.exec(name))
        .flatMap((match) => (match ? [Number(match[1])] : []))
        .sort((a, b) => a - b);
      const headers = await this.partHeaders(uploadId, dir, numbers);
      return numbers.map((partNumber, index) => {
        const header = headers[index];
        if (!header) throw Object.assign(new Error(`${dir} went while it was listed`), { code: "ENOENT" });
        return { partNumber, eTag: this.eTagOf(header.md5), size: header.size };
      });
    });
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    const upload = await this.readUpload(key, uploadId);
    parts.forEach((part, index) => {
      const previous = parts[index - 1];
      if (previous && previous.partNumber >= part.partNumber) {
        throw new StorageError("invalid-part-order", "Parts must be listed in ascending order.");
      }
    });
    // Freeze the upload: from here no part can be stored or replaced, so what is checked is what is committed.
    const frozen = this.closingDir(uploadId);
    await this.io(() => mkdir(dirname(frozen), { recursive: true, mode: DIR_MODE }));
    await this.whileOpen(uploadId, () => rename(this.uploadDir(uploadId), frozen));
    let manifest: Manifest;
    try {
      manifest = await this.checkedManifest(key, uploadId, upload.object, frozen, parts);
      await this.io(() => this.writeFileAtomically(join(frozen, "manifest.json"), JSON.stringify(manifest), frozen));
    } catch (error) {
      await rename(frozen, this.uploadDir(uploadId)); // give the upload back unchanged
      throw error;
    }
    this.storedHeaders.delete(uploadId);
    const target = this.blobDir(key);
    // Not fsynced, whatever `durable` says: the parts' bytes are on disk already, and the file system's journal keeps
    // these renames in order with the upload's record written next, so a power loss right after a complete can only
    // give the upload back as it was before it (every part kept; complete it again). An fsync here would also wait
    // for every other process's unwritten data on the same file system: seconds on a busy disk.
    await this.io(() => this.commitObjectDir(frozen, target));
    // Parts stored but not listed are not part of the object.
    const listed = new Set(manifest.parts.map((p) => p.file));
    for (const name of await readdir(target).catch(() => [])) {
      if (PART_FILE.test(name) && !listed.has(name)) await rm(join(target, name), { force: true });
    }
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.readUpload(key, uploadId);
    const trash = await this.trashPath();
    // One rename takes the whole upload away; a part renamed into it a moment later finds no directory and fails.
    await this.whileOpen(uploadId, () => rename(this.uploadDir(uploadId), trash));
    await this.renamesSettled(uploadId);
    this.storedHeaders.delete(uploadId);
    await rm(trash, { recursive: true, force: true }).catch(() => {}); // what is left is removed at the next start
  }

  /** A completed object's headers and reader, for the download route; undefined when there is none. */
  async openObject(key: string): Promise<StoredObject | undefined> {
    try {
      safeSegments(key);
    } catch {
      return undefined;
    }
    const manifest = await this.readManifest(key);
    if (!manifest) return undefined;
    const layout: ObjectLayout = { dir: this.blobDir(key), parts: manifest.parts };
    return {
      size: manifest.size,
      contentType: manifest.object.contentType,
      contentDisposition: manifest.object.contentDisposition,
      metadata: manifest.object.metadata ?? {},
      read: (start, end) => readObjectRange(layout, start, end),
    };
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
      await this.io(() => mkdir(dirname(target), { recursive: true, mode: DIR_MODE }));
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
        await writeFile(temp, content, { mode: FILE_MODE });
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
    const manifest = await this.readManifest(key);
    if (manifest) return manifest.size;
    try {
      return (await stat(this.objectPath(key))).size;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.unavailable(error);
    }
  }

  async objectHead(key: string): Promise<ObjectHead | undefined> {
    const manifest = await this.readManifest(key);
    if (manifest) return { size: manifest.size, metadata: manifest.object.metadata ?? {}, storedHeaders: {} };
    const size = await this.objectSize(key);
    return size === undefined ? undefined : { size, metadata: {}, storedHeaders: {} };
  }

  async readObjectRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    checkRange(offset, length);
    const manifest = await this.readManifest(key);
    if (manifest) {
      if (length === 0 || offset >= manifest.size) return new Uint8Array(0);
      const end = Math.min(offset + length, manifest.size) - 1;
      const chunks: Buffer[] = [];
      const layout: ObjectLayout = { dir: this.blobDir(key), parts: manifest.parts };
      // The object's directory is replaced or removed only by a rename, so its part files stay readable meanwhile.
      await this.io(async () => {
        for await (const chunk of readObjectRange(layout, offset, end)) chunks.push(chunk as Buffer);
      });
      return Buffer.concat(chunks);
    }
    // A document, or an object of the first version of this store: one file.
    let handle;
    try {
      handle = await open(this.objectPath(key), "r");
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.unavailable(error);
    }
    try {
      const size = (await handle.stat()).size;
      const bytes = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      let filled = 0;
      while (filled < bytes.length) {
        const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return bytes.subarray(0, filled);
    } catch (error) {
      throw this.unavailable(error);
    } finally {
      await handle.close();
    }
  }

  async deleteObject(key: string): Promise<void> {
    const target = this.objectPath(key);
    await this.documentLocks.run(target, async () => {
      await this.io(() => rm(target, { force: true }));
      if (await this.readManifest(key)) await this.io(() => this.discard(this.blobDir(key)));
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
      await writeFile(probe, "ok", { mode: FILE_MODE });
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

  /** The manifest of the completed object `key`; undefined when there is none (or only one of the first version). */
  private async readManifest(key: string): Promise<Manifest | undefined> {
    try {
      const manifest = JSON.parse(await readFile(join(this.blobDir(key), "manifest.json"), "utf8")) as Manifest;
      return manifest.key === key ? manifest : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.unavailable(error);
    }
  }

  /** Checks the listed parts of a frozen upload against their headers; the manifest of the object they make. */
  private async checkedManifest(
    key: string,
    uploadId: string,
    object: ObjectMetadata,
    dir: string,
    parts: CompletedPart[],
  ): Promise<Manifest> {
    // The upload is frozen: a part rename still in flight has either landed in `dir` already or will fail. Once the
    // ones in flight are recorded, the recorded headers are exactly what `dir` holds.
    await this.renamesSettled(uploadId);
    const headers = await this.io(() =>
      this.partHeaders(
        uploadId,
        dir,
        parts.map((part) => part.partNumber),
      ),
    );
    let size = 0;
    const files = parts.map((part, index) => {
      const header = headers[index];
      if (!header || this.eTagOf(header.md5) !== `"${unquoteETag(part.eTag)}"`) {
        throw new StorageError("invalid-part", `Part ${part.partNumber} is not stored or its eTag does not match.`);
      }
      if (index < parts.length - 1 && header.size < this.minPartSize) {
        throw new StorageError(
          "part-too-small",
          `Part ${part.partNumber} is ${header.size} bytes; all but the last must be at least ${this.minPartSize === MIN_PART_SIZE ? "5 MiB" : `${this.minPartSize} bytes`}.`,
        );
      }
      size += header.size;
      return { file: partFileName(part.partNumber), size: header.size };
    });
    return { version: 2, key, uploadId, size, object, parts: files };
  }

  /**
   * Renames a received part to its name in the upload's directory (replacing an earlier copy atomically) and records
   * its header. One rename of a part at a time, so that the header recorded last is the file that landed last.
   */
  private renamePart(uploadId: string, partNumber: number, temp: string, header: PartHeader): Promise<void> {
    return this.partRenames.run(`${uploadId}/${partNumber}`, () => {
      const landing = rename(temp, join(this.uploadDir(uploadId), partFileName(partNumber))).then(() => {
        let headers = this.storedHeaders.get(uploadId);
        if (!headers) this.storedHeaders.set(uploadId, (headers = new Map<number, PartHeader>()));
        headers.set(partNumber, header);
      });
      let inFlight = this.renaming.get(uploadId);
      if (!inFlight) this.renaming.set(uploadId, (inFlight = new Set<Promise<unknown>>()));
      inFlight.add(landing);
      const settled = () => {
        inFlight.delete(landing);
        if (inFlight.size === 0 && this.renaming.get(uploadId) === inFlight) this.renaming.delete(uploadId);
      };
      landing.then(settled, settled);
      return landing;
    });
  }

  /** Waits for the part renames of an upload that are in flight now (landed or failed, and recorded). */
  private async renamesSettled(uploadId: string): Promise<void> {
    const inFlight = this.renaming.get(uploadId);
    if (inFlight) await Promise.allSettled([...inFlight]);
  }

  /**
   * The headers of parts of an upload whose files are in `dir`: the recorded ones, and the others (stored before this
   * process started) read from their files; undefined for a part that has no file.
   */
  private async partHeaders(
    uploadId: string,
    dir: string,
    partNumbers: readonly number[],
  ): Promise<(PartHeader | undefined)[]> {
    const recorded = this.storedHeaders.get(uploadId);
    return mapLimited(
      partNumbers,
      32,
      async (partNumber) => recorded?.get(partNumber) ?? readPartHeader(join(dir, partFileName(partNumber))),
    );
  }

  /** The ETag of a part with this MD5, quoted. */
  private eTagOf(md5: Buffer): string {
    if (this.options.eTags !== "opaque") return `"${md5.toString("hex")}"`;
    return `"${createHmac("sha256", this.options.signingSecret).update("opaque-etag\n").update(md5).digest("hex").slice(0, 32)}"`;
  }

  /**
   * Runs `work` on the upload's directory. When the directory is missing because a complete has frozen it, waits for
   * that complete to commit or give the upload back, then runs it again; otherwise the upload does not exist.
   */
  private async whileOpen<T>(uploadId: string, work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + CLOSING_WAIT_MS;
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (!isMissing(error)) throw this.unavailable(error);
        if (!(await this.waitWhileClosing(uploadId, deadline))) throw noSuchUpload();
      }
    }
  }

  /** Waits while a complete holds the upload frozen; true when it gave the upload back. */
  private async waitWhileClosing(uploadId: string, deadline: number): Promise<boolean> {
    const closing = this.closingDir(uploadId);
    const exists = (path: string) =>
      stat(path).then(
        () => true,
        () => false,
      );
    if (!(await exists(closing))) return false;
    while ((await exists(closing)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    return exists(join(this.uploadDir(uploadId), "upload.json"));
  }

  private async readUpload(key: string, uploadId: string): Promise<UploadInfo> {
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload();
    const upload = await this.whileOpen(
      uploadId,
      async () => JSON.parse(await readFile(join(this.uploadDir(uploadId), "upload.json"), "utf8")) as UploadInfo,
    );
    if (upload.key !== key) throw noSuchUpload();
    return upload;
  }

  /**
   * Makes the data dir owner-only, warns when it is not, and finishes what a killed process left: uploads frozen by a
   * complete that did not commit go back to `multipart/`; files in `tmp/` and directories in `trash/` are removed.
   */
  private prepareDataDir(): void {
    const root = this.options.dir;
    mkdirSync(root, { recursive: true, mode: DIR_MODE });
    const mode = statSync(root).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      this.options.warn?.(
        `The data dir ${root} can be read by other users (mode ${mode.toString(8).padStart(4, "0")}); it holds every upload and the signing secret. Run: chmod 700 ${root}`,
      );
    }
    const closing = join(root, "closing");
    for (const uploadId of existsSync(closing) ? readdirSync(closing).filter((n) => UPLOAD_ID.test(n)) : []) {
      const frozen = join(root, "closing", uploadId);
      rmSync(join(frozen, "manifest.json"), { force: true });
      renameSync(frozen, this.uploadDir(uploadId));
    }
    for (const dir of ["tmp", "trash"]) rmSync(join(root, dir), { recursive: true, force: true });
  }

  /** Renames a completed object's directory into place: the commit. An object of the key is replaced, as S3 does. */
  private async commitObjectDir(from: string, target: string): Promise<void> {
    await mkdir(dirname(target), { recursive: true, mode: DIR_MODE });
    try {
      await rename(from, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
      await this.discard(target);
      await rename(from, target);
    }
  }

  /** Moves a directory out of the way at once and removes it; what a crash leaves is removed at the next start. */
  private async discard(dir: string): Promise<void> {
    const trash = await this.trashPath();
    await rename(dir, trash);
    await rm(trash, { recursive: true, force: true }).catch(() => {});
  }

  private uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload();
    return join(this.options.dir, "multipart", uploadId);
  }

  private closingDir(uploadId: string): string {
    return join(this.options.dir, "closing", uploadId);
  }

  /** A completed object's directory: named by the key's hash, so no key can collide with another's files. */
  private blobDir(key: string): string {
    const hash = createHash("sha256").update(key).digest("hex");
    return join(this.options.dir, "blobs", hash.slice(0, 2), hash);
  }

  private objectPath(key: string): string {
    return join(this.options.dir, "objects", ...safeSegments(key));
  }

  private tempPath(): Promise<string> {
    return this.newPathIn("tmp");
  }

  private trashPath(): Promise<string> {
    return this.newPathIn("trash");
  }

  /** A fresh name in one of the store's working directories (made once; they are only removed at start). */
  private async newPathIn(name: "tmp" | "trash"): Promise<string> {
    const dir = join(this.options.dir, name);
    if (!this.madeDirs.has(name)) {
      await this.io(() => mkdir(dir, { recursive: true, mode: DIR_MODE }));
      this.madeDirs.add(name);
    }
    return join(dir, randomBytes(12).toString("hex"));
  }

  private async writeAtomically(path: string, content: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
    const temp = await this.tempPath();
    await writeFile(temp, content, { mode: FILE_MODE });
    await rename(temp, path);
  }

  /** Writes a file through a temporary name in `dir` (its own directory). */
  private async writeFileAtomically(path: string, content: string, dir: string): Promise<void> {
    const temp = join(dir, `.tmp-${randomBytes(8).toString("hex")}`);
    await writeFile(temp, content, { mode: FILE_MODE });
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

/** Makes a rename or a new file in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const fd = await openFile(dir, "r");
  try {
    await syncFile(fd);
  } finally {
    await closeFile(fd);
  }
}

/** `work` on every item, at most `limit` at a time; results in the items' order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function ignore(): void {}

function documentVersion(bytes: Buffer): string {
  return createHash("md5").update(bytes).digest("hex");
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

function objectExists(): StorageError {
  return new StorageError("object-exists", "The file is stored already: a single-PUT URL stores it once.");
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

const RECEIVE_ERRORS: ReceiveErrors = {
  tooLarge: (received, limit) => wrongPartSize(received, limit),
  tooShort: (received, expected) => wrongPartSize(received, expected),
  badDigest: () => new StorageError("bad-digest", "The part's bytes do not match its Content-MD5 header."),
};
