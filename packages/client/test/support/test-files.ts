import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { randomContent } from "@upload-gateway/server/testing";
import { createApiClient } from "../../src/index";
import type { Gateway } from "./gateway";

export const MiB = 1024 * 1024;
export const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
export const md5Hex = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
/** The built CLI, as `upload-gateway` runs it. */
export const CLI = join(__dirname, "..", "..", "dist", "cli.js");

export interface TestFiles {
  /** A folder of the test file's own, removed after its tests. */
  dir: string;
  /** 64 MiB of random bytes, and the file holding them (`movie.mp4`). */
  big: Buffer;
  bigPath: string;
}

/** Registers the hooks that make (and remove) a test file's folder of files; read the fields inside tests. */
export function useTestFiles(): TestFiles {
  const files = {} as TestFiles;
  beforeAll(() => {
    files.dir = mkdtempSync(join(tmpdir(), "client-files-"));
    files.big = randomContent(64 * MiB);
    files.bigPath = join(files.dir, "movie.mp4");
    writeFileSync(files.bigPath, files.big);
  });
  afterAll(() => rmSync(files.dir, { recursive: true, force: true }));
  return files;
}

/** The SHA-256 of what the gateway's download URL of the upload serves. */
export async function downloaded(gateway: Gateway, requestKey: string): Promise<string> {
  const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
  const { downloadPath } = await api.downloadUrl(gateway.projectId, requestKey);
  const response = await fetch(downloadPath);
  expect(response.status).toBe(200);
  return sha256(new Uint8Array(await response.arrayBuffer()));
}
