import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomContent } from "@upload-gateway/server/testing";

export const MiB = 1024 * 1024;

export interface TestFile {
  path: string;
  name: string;
  size: number;
  sha256: string;
}

export const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Random files on disk for the file input, in one temporary folder removed by `clean()`. */
export function testFiles() {
  const dir = mkdtempSync(join(tmpdir(), "web-e2e-files-"));
  return {
    make(name: string, size: number): TestFile {
      const data = randomContent(size);
      const path = join(dir, name);
      writeFileSync(path, data);
      return { path, name, size, sha256: sha256(data) };
    },
    /** Where a file named `name` goes in the folder, for files made otherwise (e.g. by ffmpeg). */
    pathOf: (name: string) => join(dir, name),
    clean: () => rmSync(dir, { recursive: true, force: true }),
  };
}
