import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { MAX_PART_SIZE, MIN_PART_SIZE } from "@upload-gateway/contract";
import { unquoteETag } from "./etag";
import { KeyedMutex } from "./keyed-mutex";
import type { LocalBlobs, Manifest } from "./local-blobs";
import {
  DIR_MODE,
  FILE_MODE,
  isMissing,
  safeSegments,
  syncDir,
  unavailable,
  type LocalDataDir,
} from "./local-data-dir";
import { readPartHeader, type PartHeader } from "./local-part-file";
import { PART_FILE, partFileName, type LocalPartReceiver } from "./local-part-receiver";
import type { CompletedPart, ObjectMetadata, StoredPartInfo } from "./object-store.port";
import type { ExpectedBody } from "./served-store";
import { StorageError } from "./storage-error";

interface UploadInfo {
  key: string;
  object: ObjectMetadata;
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;
/** How long an operation waits for a concurrent complete to commit or give the upload back. */
const CLOSING_WAIT_MS = 10_000;

/**
 * The embedded store's multipart uploads in progress. Each part is its own file (a header with its size and MD5, then
 * its bytes; see local-part-file.ts), and every state change is one `rename`:
 *
 *   multipart/<uploadId>/upload.json    the upload's key and metadata         (created whole: a directory renamed in)
 *   multipart/<uploadId>/part-NNNNN     a stored part                         (a file renamed in from tmp/)
 *   closing/<uploadId>/                 an upload being completed: frozen, so no part changes while it is checked
 *
 * A part is written to tmp/ while it arrives (MD5 computed on the way) and renamed to its fixed name when whole, so a
 * reader sees the old part or the new one, never a partial one, and of concurrent writers of one part the last rename
 * wins with a whole body. Completing renames the upload's directory to closing/ (parts sent from then on find no
 * upload), checks the listed parts' headers, writes the manifest and renames the directory into blobs/ (local-blobs.ts):
 * that rename is the commit. A check that fails renames the directory back. Aborting renames the directory into trash/
 * before removing it, so a part renamed in a moment later fails instead of re-creating the upload. After a crash,
 * `closing/` is given back to `multipart/` when the store next starts: one process owns a data dir.
 */
export class LocalMultipart {
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

  /** Gives back the uploads a complete had frozen when a process was killed before it committed. */
  constructor(
    private readonly dataDir: LocalDataDir,
    private readonly parts: LocalPartReceiver,
    private readonly blobs: LocalBlobs,
    private readonly minPartSize = MIN_PART_SIZE,
  ) {
    const closing = dataDir.path("closing");
    for (const uploadId of existsSync(closing) ? readdirSync(closing).filter((n) => UPLOAD_ID.test(n)) : []) {
      const frozen = join(closing, uploadId);
      rmSync(join(frozen, "manifest.json"), { force: true });
      renameSync(frozen, this.uploadDir(uploadId));
    }
  }

  async create(key: string, object: ObjectMetadata): Promise<string> {
    safeSegments(key);
    const uploadId = randomBytes(16).toString("hex");
    // Made in tmp/ and renamed into place whole: an upload never exists without its upload.json.
    const staging = await this.dataDir.tempPath();
    await this.dataDir.io(async () => {
      await mkdir(staging, { mode: DIR_MODE });
      await writeFile(join(staging, "upload.json"), JSON.stringify({ key, object } satisfies UploadInfo), {
        mode: FILE_MODE,
      });
      await mkdir(this.dataDir.path("multipart"), { recursive: true, mode: DIR_MODE });
      await rename(staging, this.uploadDir(uploadId));
    });
    return uploadId;
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
    expected: ExpectedBody,
  ): Promise<StoredPartInfo> {
    this.parts.checkDeclared(body, expected);
    await this.readUpload(key, uploadId);
    const temp = await this.dataDir.tempPath();
    let header: PartHeader;
    try {
      header = await this.parts.receive(temp, body, expected, MAX_PART_SIZE);
    } catch (error) {
      await rm(temp, { force: true });
      throw unavailable(error);
    }
    try {
      const dir = this.uploadDir(uploadId);
      await this.whileOpen(uploadId, () => this.renamePart(uploadId, partNumber, temp, header));
      if (this.parts.durable) await this.dataDir.io(() => syncDir(dir));
    } catch (error) {
      await rm(temp, { force: true });
      // The upload's directory went between the part's rename and its sync: aborted (or completed) meanwhile.
      if (isMissing(error)) throw noSuchUpload();
      throw unavailable(error);
    }
    return { partNumber, eTag: this.parts.eTagOf(header.md5), size: header.size };
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
        return { partNumber, eTag: this.parts.eTagOf(header.md5), size: header.size };
      });
    });
  }

  async complete(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    const upload = await this.readUpload(key, uploadId);
    parts.forEach((part, index) => {
      const previous = parts[index - 1];
      if (previous && previous.partNumber >= part.partNumber) {
        throw new StorageError("invalid-part-order", "Parts must be listed in ascending order.");
      }
    });
    // Freeze the upload: from here no part can be stored or replaced, so what is checked is what is committed.
    const frozen = this.dataDir.path("closing", uploadId);
    await this.dataDir.io(() => mkdir(dirname(frozen), { recursive: true, mode: DIR_MODE }));
    await this.whileOpen(uploadId, () => rename(this.uploadDir(uploadId), frozen));
    let manifest: Manifest;
    try {
      manifest = await this.checkedManifest(key, uploadId, upload.object, frozen, parts);
      // Through a temporary name in the frozen directory itself, renamed along with it.
      const temp = join(frozen, `.tmp-${randomBytes(8).toString("hex")}`);
      await this.dataDir.io(async () => {
        await writeFile(temp, JSON.stringify(manifest), { mode: FILE_MODE });
        await rename(temp, join(frozen, "manifest.json"));
      });
    } catch (error) {
      await rename(frozen, this.uploadDir(uploadId)); // give the upload back unchanged
      throw error;
    }
    this.storedHeaders.delete(uploadId);
    // Not fsynced, whatever `durable` says: the parts' bytes are on disk already, and the file system's journal keeps
    // these renames in order with the upload's record written next, so a power loss right after a complete can only
    // give the upload back as it was before it (every part kept; complete it again). An fsync here would also wait
    // for every other process's unwritten data on the same file system: seconds on a busy disk.
    await this.blobs.commit(frozen, manifest);
  }

  async abort(key: string, uploadId: string): Promise<void> {
    await this.readUpload(key, uploadId);
    const trash = await this.dataDir.trashPath();
    // One rename takes the whole upload away; a part renamed into it a moment later finds no directory and fails.
    await this.whileOpen(uploadId, () => rename(this.uploadDir(uploadId), trash));
    await this.renamesSettled(uploadId);
    this.storedHeaders.delete(uploadId);
    await rm(trash, { recursive: true, force: true }).catch(() => {}); // what is left is removed at the next start
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
    const numbers = parts.map((part) => part.partNumber);
    const headers = await this.dataDir.io(() => this.partHeaders(uploadId, dir, numbers));
    let size = 0;
    const files = parts.map((part, index) => {
      const header = headers[index];
      if (!header || this.parts.eTagOf(header.md5) !== `"${unquoteETag(part.eTag)}"`) {
        throw new StorageError("invalid-part", `Part ${part.partNumber} is not stored or its eTag does not match.`);
      }
      if (index < parts.length - 1 && header.size < this.minPartSize) {
        const least = this.minPartSize === MIN_PART_SIZE ? "5 MiB" : `${this.minPartSize} bytes`;
        throw new StorageError(
          "part-too-small",
          `Part ${part.partNumber} is ${header.size} bytes; all but the last must be at least ${least}.`,
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
        if (!isMissing(error)) throw unavailable(error);
        if (!(await this.waitWhileClosing(uploadId, deadline))) throw noSuchUpload();
      }
    }
  }

  /** Waits while a complete holds the upload frozen; true when it gave the upload back. */
  private async waitWhileClosing(uploadId: string, deadline: number): Promise<boolean> {
    const closing = this.dataDir.path("closing", uploadId);
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

  private uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload();
    return this.dataDir.path("multipart", uploadId);
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

function noSuchUpload(): StorageError {
  return new StorageError("upload-not-found", "The upload does not exist in storage (it was completed or aborted).");
}
