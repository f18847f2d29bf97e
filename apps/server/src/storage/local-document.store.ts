import { createHash } from "node:crypto";
import { link, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import {
  wrote,
  type DocumentStore,
  type KeyPage,
  type StoredDocument,
  type WriteConditions,
  type WrittenDocument,
} from "./document-store.port";
import { KeyedMutex } from "./keyed-mutex";
import { DIR_MODE, FILE_MODE, isMissing, safeSegments, unavailable, type LocalDataDir } from "./local-data-dir";

/**
 * The `DocumentStore` port on the local disk: each document is a file `objects/<key>` of the data dir, replaced whole by
 * a rename (written in tmp/ first), so a reader sees one whole version; its MD5 is its version, as S3's ETag is.
 *
 * Every write and delete of a key runs under that key's lock, so a conditional write's check and its rename are one
 * step that no other write of the key can come between. The lock is this process's: the embedded store belongs to
 * one gateway process (its part and download URLs point at that process), which is the only writer of its directory.
 * Creating a document (`ifNoneMatch`) also uses link(), which fails if the target exists, so even two processes
 * could not both create it.
 */
export class LocalDocumentStore implements DocumentStore {
  private readonly locks = new KeyedMutex();

  constructor(private readonly dataDir: LocalDataDir) {}

  async readJson(key: string): Promise<unknown> {
    return (await this.readDocument(key))?.value;
  }

  async readDocument(key: string): Promise<StoredDocument | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.documentPath(key));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw unavailable(error);
    }
    // Writes replace the file by a rename, so these bytes are one whole version; its MD5 is its version, like S3's ETag.
    return { value: JSON.parse(bytes.toString("utf8")) as unknown, version: documentVersion(bytes) };
  }

  writeJson(key: string, value: unknown, options?: WriteConditions): Promise<boolean> {
    return wrote(this.writeDocument(key, value, options));
  }

  async writeDocument(key: string, value: unknown, when: WriteConditions = {}): Promise<WrittenDocument | undefined> {
    const target = this.documentPath(key);
    const content = JSON.stringify(value);
    const written = { version: documentVersion(Buffer.from(content, "utf8")) };
    return this.locks.run(target, async () => {
      await this.dataDir.io(() => mkdir(dirname(target), { recursive: true, mode: DIR_MODE }));
      if (when.ifMatch !== undefined) {
        const current = await this.readDocument(key);
        if (current?.version !== when.ifMatch) return undefined;
        if (when.ifNoneMatch) return undefined; // both conditions cannot hold: the document exists
      }
      if (!when.ifNoneMatch) {
        await this.dataDir.io(() => this.dataDir.writeAtomically(target, content));
        return written;
      }
      const temp = await this.dataDir.tempPath();
      try {
        await writeFile(temp, content, { mode: FILE_MODE });
        await link(temp, target);
        return written;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") return undefined;
        throw unavailable(error);
      } finally {
        await rm(temp, { force: true });
      }
    });
  }

  async listKeys(prefix: string, options: { startAfter?: string; limit: number }): Promise<KeyPage> {
    const base = prefix.slice(0, prefix.lastIndexOf("/") + 1);
    const keys = (await this.walk(base))
      .filter((k) => k.startsWith(prefix) && (options.startAfter === undefined || k > options.startAfter))
      .sort();
    return { keys: keys.slice(0, options.limit), isTruncated: keys.length > options.limit };
  }

  async deleteDocument(key: string): Promise<void> {
    const target = this.documentPath(key);
    await this.locks.run(target, () => this.dataDir.io(() => rm(target, { force: true })));
  }

  async checkReady(): Promise<void> {
    await this.dataDir.checkWritable();
  }

  /** Every document key below `base` (a prefix ending in `/`, or empty for all). */
  private async walk(base: string): Promise<string[]> {
    const root = this.dataDir.path("objects");
    const dir = base === "" ? root : this.documentPath(base.replace(/\/$/, ""));
    let entries;
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw unavailable(error);
    }
    return entries
      .filter((e) => e.isFile())
      .map((e) =>
        join(e.parentPath, e.name)
          .slice(root.length + sep.length)
          .split(sep)
          .join("/"),
      );
  }

  private documentPath(key: string): string {
    return this.dataDir.path("objects", ...safeSegments(key));
  }
}

function documentVersion(bytes: Buffer): string {
  return createHash("md5").update(bytes).digest("hex");
}
