import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { constants } from "node:fs";
import { copyFile, link, mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { MAX_SINGLE_PUT_SIZE } from "@upload-gateway/contract";
import { KeyedMutex } from "./keyed-mutex";
import {
  DIR_MODE,
  FILE_MODE,
  isMissing,
  safeSegments,
  syncDir,
  unavailable,
  type LocalDataDir,
} from "./local-data-dir";
import { readObjectRange, type ObjectLayout } from "./local-object-reader";
import { PART_FILE, partFileName, type LocalPartReceiver } from "./local-part-receiver";
import { checkRange, type ObjectHead, type ObjectMetadata, type ObjectStream } from "./object-store.port";
import type { StoredObject, WriteObjectOptions } from "./served-store";
import { StorageError } from "./storage-error";

/** A completed object's record, kept next to its part files. */
export interface Manifest {
  version: 2;
  key: string;
  uploadId: string;
  size: number;
  object: ObjectMetadata;
  parts: { file: string; size: number }[];
}

/**
 * The embedded store's completed objects: `blobs/<hh>/<sha256(key)>/`, a directory of part files and the manifest
 * listing them, named by the key's hash so that no key can collide with another's files. An object appears, is
 * replaced and goes by one `rename` of its directory, so its part files stay readable while a reader has them.
 * Every change of a key runs under that key's lock (a single PUT's check and commit; a delete).
 */
export class LocalBlobs {
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly dataDir: LocalDataDir,
    private readonly parts: LocalPartReceiver,
  ) {}

  /** The manifest of the completed object `key`; undefined when there is none. */
  async readManifest(key: string): Promise<Manifest | undefined> {
    try {
      const manifest = JSON.parse(await readFile(join(this.blobDir(key), "manifest.json"), "utf8")) as Manifest;
      return manifest.key === key ? manifest : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw unavailable(error);
    }
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
    this.parts.checkDeclared(body, options);
    safeSegments(key);
    // Refused at once rather than after gigabytes are read for nothing; checked again at the commit.
    if (await this.readManifest(key)) throw objectExists();
    const staging = await this.dataDir.tempPath();
    const file = partFileName(1);
    try {
      await this.dataDir.io(() => mkdir(staging, { mode: DIR_MODE }));
      const header = await this.parts.receive(join(staging, file), body, options, MAX_SINGLE_PUT_SIZE);
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
      await this.dataDir.io(() =>
        writeFile(join(staging, "manifest.json"), JSON.stringify(manifest), { mode: FILE_MODE }),
      );
      if (this.parts.durable) await this.dataDir.io(() => syncDir(staging));
      const target = this.blobDir(key);
      // Under the key's lock, as `delete`: the check and the rename are one step no other PUT or delete of the key
      // comes between. The rename itself refuses a non-empty target too (ENOTEMPTY), whoever made it.
      await this.locks.run(key, async () => {
        if (await this.readManifest(key)) throw objectExists();
        await this.dataDir.io(async () => {
          await renameDir(staging, target, () => Promise.reject(objectExists()));
          if (this.parts.durable) await syncDir(dirname(target));
        });
      });
      return { eTag: this.parts.eTagOf(header.md5), size: header.size };
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw unavailable(error);
    }
  }

  /**
   * Renames a completed upload's directory (`from`, holding its part files and manifest) into place: the commit. An
   * object of the key is replaced, as S3 does. Parts stored but not listed in the manifest are removed after.
   */
  async commit(from: string, manifest: Manifest): Promise<void> {
    const target = this.blobDir(manifest.key);
    await this.dataDir.io(() =>
      renameDir(from, target, async () => {
        await this.dataDir.discard(target);
        await rename(from, target);
      }),
    );
    const listed = new Set(manifest.parts.map((p) => p.file));
    for (const name of await readdir(target).catch(() => [])) {
      if (PART_FILE.test(name) && !listed.has(name)) await rm(join(target, name), { force: true });
    }
  }

  /** A completed object's headers and reader, for the download route; undefined when there is none. */
  async open(key: string): Promise<StoredObject | undefined> {
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

  async head(key: string): Promise<ObjectHead | undefined> {
    const manifest = await this.readManifest(key);
    return manifest && { size: manifest.size, metadata: manifest.object.metadata ?? {}, storedHeaders: {} };
  }

  async readRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    checkRange(offset, length);
    const manifest = await this.readManifest(key);
    if (!manifest) return undefined;
    if (length === 0 || offset >= manifest.size) return new Uint8Array(0);
    const end = Math.min(offset + length, manifest.size) - 1;
    const chunks: Buffer[] = [];
    const layout: ObjectLayout = { dir: this.blobDir(key), parts: manifest.parts };
    // The object's directory is replaced or removed only by a rename, so its part files stay readable meanwhile.
    await this.dataDir.io(async () => {
      for await (const chunk of readObjectRange(layout, offset, end)) chunks.push(chunk as Buffer);
    });
    return Buffer.concat(chunks);
  }

  /** The whole object, read part file after part file as it is consumed; I/O failures as `StorageError`s. */
  async stream(key: string): Promise<ObjectStream | undefined> {
    const manifest = await this.readManifest(key);
    if (!manifest) return undefined;
    const layout: ObjectLayout = { dir: this.blobDir(key), parts: manifest.parts };
    const dataDir = this.dataDir;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (manifest!.size === 0) return;
      const reader = readObjectRange(layout, 0, manifest!.size - 1)[Symbol.asyncIterator]();
      for (;;) {
        const next = await dataDir.io(() => reader.next() as Promise<IteratorResult<Buffer>>);
        if (next.done) return;
        yield next.value;
      }
    }
    return { size: manifest.size, chunks: chunks() };
  }

  async delete(key: string): Promise<void> {
    safeSegments(key);
    await this.locks.run(key, async () => {
      if (await this.readManifest(key)) await this.dataDir.io(() => this.dataDir.discard(this.blobDir(key)));
    });
  }

  /**
   * Moves the object `from` to `to` (`ObjectStore.moveObject`) without copying its bytes, and with no moment where it
   * is under neither key: its part files are hard-linked into a new directory in tmp/ with a manifest naming `to`,
   * renamed into place (replacing an object of `to`, as `commit` does), and only then is `from`'s directory removed.
   * Not a bare rename of the directory: its manifest names its key (`readManifest` checks it), and a process dying
   * between the rename and the manifest's rewrite would leave the object under no key. Dying before the last step
   * leaves it at both keys: the move sent again finishes it. Runs under both keys' locks, taken in one order (no two
   * moves wait for each other), so a delete, a single PUT or another move of either key comes before or after it.
   */
  async move(from: string, to: string): Promise<boolean> {
    safeSegments(from);
    safeSegments(to);
    if (from === to) return (await this.readManifest(from)) !== undefined;
    const [first, second] = from < to ? [from, to] : [to, from];
    return this.locks.run(first, () => this.locks.run(second, () => this.moveLocked(from, to)));
  }

  private async moveLocked(from: string, to: string): Promise<boolean> {
    const manifest = await this.readManifest(from);
    if (!manifest) return false;
    const source = this.blobDir(from);
    const target = this.blobDir(to);
    const staging = await this.dataDir.tempPath();
    try {
      await this.dataDir.io(async () => {
        await mkdir(staging, { mode: DIR_MODE });
        for (const part of manifest.parts) await linkOrCopy(join(source, part.file), join(staging, part.file));
        const moved: Manifest = { ...manifest, key: to };
        await writeFile(join(staging, "manifest.json"), JSON.stringify(moved), { mode: FILE_MODE });
        if (this.parts.durable) await syncDir(staging);
        await renameDir(staging, target, async () => {
          await this.dataDir.discard(target);
          await rename(staging, target);
        });
        if (this.parts.durable) await syncDir(dirname(target));
        await this.dataDir.discard(source);
      });
      return true;
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw unavailable(error);
    }
  }

  /** A completed object's directory: named by the key's hash, so no key can collide with another's files. */
  private blobDir(key: string): string {
    const hash = createHash("sha256").update(key).digest("hex");
    return this.dataDir.path("blobs", hash.slice(0, 2), hash);
  }
}

/** A second name for the file `from` (same data dir: same file system); a copy where the file system has no links. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV" && code !== "EMLINK") throw error;
    await copyFile(from, to, constants.COPYFILE_FICLONE);
  }
}

/** Renames the directory `from` to `target`, making its parent; `whenTaken` runs when a directory is there already. */
async function renameDir(from: string, target: string, whenTaken: () => Promise<void>): Promise<void> {
  await mkdir(dirname(target), { recursive: true, mode: DIR_MODE });
  try {
    await rename(from, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    await whenTaken();
  }
}

function objectExists(): StorageError {
  return new StorageError("object-exists", "The file is stored already: a single-PUT URL stores it once.");
}
