import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config/app-config";
import { resolveTokenSigningKeys } from "./token-signing-keys";

const dir = mkdtempSync(join(tmpdir(), "token-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("resolveTokenSigningKeys", () => {
  it("uses UPLOAD_TOKEN_KEYS when set, in either storage", () => {
    const keys = `k:${"x".repeat(32)}`;
    expect(resolveTokenSigningKeys(loadConfig({ LOCAL_STORAGE_DIR: dir, UPLOAD_TOKEN_KEYS: keys }))).toHaveLength(1);
    expect(
      resolveTokenSigningKeys(
        loadConfig({ STORAGE: "s3", S3_BUCKET: "bucket", PROJECTS_FILE: "p", UPLOAD_TOKEN_KEYS: keys }),
      )[0]!.kid,
    ).toBe("k");
  });

  it("with the embedded store and none set, generates one key, kept owner-only in the data dir across restarts", () => {
    const first = resolveTokenSigningKeys(loadConfig({ LOCAL_STORAGE_DIR: dir }));
    const again = resolveTokenSigningKeys(loadConfig({ LOCAL_STORAGE_DIR: dir }));
    expect(first).toHaveLength(1);
    expect(first[0]!.secret.length).toBeGreaterThanOrEqual(32);
    expect(again).toEqual(first);
    expect(statSync(join(dir, "upload-token-key")).mode & 0o077).toBe(0);
  });

  it("with S3 and none set, has none: the replicas could not agree on a generated one", () => {
    expect(resolveTokenSigningKeys(loadConfig({ STORAGE: "s3", S3_BUCKET: "bucket", PROJECTS_FILE: "p" }))).toEqual([]);
  });
});
