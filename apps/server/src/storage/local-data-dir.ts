import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { mkdir, rename, rm, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { closeFile, openFile, syncFile } from "./local-part-file";
import { StorageError } from "./storage-error";

/**
 * Every directory and file the store makes is owner-only, given as the mode of each mkdir and open rather than left to
 * the process's umask (a umask only removes bits: with umask 0 a mode-less mkdir makes 0777).
 */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/**
 * The embedded store's data dir, shared by its object store (`local-object.store.ts`) and its document store
 * (`local-document.store.ts`): the owner-only modes, the working directories both write through (`tmp/`: files being
 * written; `trash/`: directories being removed) and the mapping of disk failures to `StorageError`s. One process owns
 * a data dir: what a killed one left in `tmp/` and `trash/` is removed when the next one opens it.
 */
export class LocalDataDir {
  private readonly madeDirs = new Set<string>();

  /** Makes the dir owner-only, warns when it is not, and empties `tmp/` and `trash/`. */
  constructor(
    readonly root: string,
    warn?: (message: string) => void,
  ) {
    mkdirSync(root, { recursive: true, mode: DIR_MODE });
    const mode = statSync(root).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      warn?.(
        `The data dir ${root} can be read by other users (mode ${mode.toString(8).padStart(4, "0")}); it holds every upload and the signing secret. Run: chmod 700 ${root}`,
      );
    }
    for (const dir of ["tmp", "trash"]) rmSync(join(root, dir), { recursive: true, force: true });
  }

  path(...segments: string[]): string {
    return join(this.root, ...segments);
  }

  tempPath(): Promise<string> {
    return this.newPathIn("tmp");
  }

  trashPath(): Promise<string> {
    return this.newPathIn("trash");
  }

  /** Moves a directory out of the way at once and removes it; what a crash leaves is removed at the next start. */
  async discard(dir: string): Promise<void> {
    const trash = await this.trashPath();
    await rename(dir, trash);
    await rm(trash, { recursive: true, force: true }).catch(() => {});
  }

  /** Writes a file whole or not at all: through a fresh name in `tmp/`, renamed into place. */
  async writeAtomically(path: string, content: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
    const temp = await this.tempPath();
    await writeFile(temp, content, { mode: FILE_MODE });
    await rename(temp, path);
  }

  /** Throws a `StorageError` of reason `unavailable` when no file can be written (the store's readiness). */
  async checkWritable(): Promise<void> {
    const probe = await this.tempPath();
    await this.io(async () => {
      await writeFile(probe, "ok", { mode: FILE_MODE });
      await unlink(probe);
    });
  }

  /** Runs `work`, reporting the disk failures an operator must fix as `unavailable`. */
  async io<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw unavailable(error);
    }
  }

  /** A fresh name in one of the working directories (made once; they are only removed at start). */
  private async newPathIn(name: "tmp" | "trash"): Promise<string> {
    const dir = join(this.root, name);
    if (!this.madeDirs.has(name)) {
      await this.io(() => mkdir(dir, { recursive: true, mode: DIR_MODE }));
      this.madeDirs.add(name);
    }
    return join(dir, randomBytes(12).toString("hex"));
  }
}

/** A disk failure nothing a client can fix but an operator can, as `unavailable`; any other error as it is. */
export function unavailable(error: unknown): unknown {
  if (error instanceof StorageError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  // The disk is full, read-only or not ours.
  if (code && ["ENOSPC", "EROFS", "EACCES", "EPERM", "EIO", "EDQUOT"].includes(code)) {
    return new StorageError("unavailable", `local storage failed: ${code}`, { cause: error });
  }
  return error;
}

/** A key's path segments, refusing any that could leave the storage directory. */
export function safeSegments(key: string): string[] {
  const segments = key.split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\0") || s.includes("\\"))) {
    throw new Error(`unsafe storage key: ${JSON.stringify(key)}`);
  }
  return segments;
}

/** Makes a rename or a new file in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const fd = await openFile(dir, "r");
  try {
    await syncFile(fd);
  } finally {
    await closeFile(fd);
  }
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
