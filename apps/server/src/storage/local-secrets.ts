import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A secret kept in the data directory: read if present, otherwise generated once and written with owner-only
 * permissions, so that URLs signed and keys printed before a restart keep working after it.
 */
export function persistentSecret(dir: string, name: string, generate: () => string): string {
  const path = join(dir, name);
  try {
    const existing = readFileSync(path, "utf8").trim();
    if (existing) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const value = generate();
  try {
    // "wx": if another process created it in the meantime, use theirs.
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
    return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(path, "utf8").trim();
    throw error;
  }
}

export const randomSecret =
  (bytes = 32) =>
  () =>
    randomBytes(bytes).toString("base64url");
