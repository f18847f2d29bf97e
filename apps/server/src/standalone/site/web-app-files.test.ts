import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { safeRelativePath, WebAppFiles } from "./web-app-files";

describe("safeRelativePath", () => {
  it.each([
    ["/", ""],
    ["/assets/index-abc.js", "assets/index-abc.js"],
    ["//assets//a.css", "assets/a.css"],
    ["/a%20b.txt", "a b.txt"],
  ])("%s → %s", (path, relative) => expect(safeRelativePath(path)).toBe(relative));

  it.each(["/../secret", "/assets/../../x", "/%2e%2e/x", "/.env", "/a%00b", "/a\\b", "/%E0%A4%A"])(
    "refuses %s",
    (path) => {
      expect(safeRelativePath(path)).toBeUndefined();
    },
  );
});

describe("WebAppFiles", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "web-dist-"));
    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>app</title>");
    writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
    writeFileSync(join(dir, "favicon.svg"), "<svg/>");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives hashed assets a long cache and other files a revalidating one, with their types and an ETag", async () => {
    const files = new WebAppFiles(dir);
    const script = await files.file("/assets/index-abc123.js");
    expect(script).toMatchObject({
      contentType: "text/javascript; charset=utf-8",
      cacheControl: "public, max-age=31536000, immutable",
    });
    expect(script?.etag).toMatch(/^"[\w-]{27}"$/);
    expect(await files.file("/favicon.svg")).toMatchObject({ contentType: "image/svg+xml", cacheControl: "no-cache" });
    expect(await files.index()).toMatchObject({ contentType: "text/html; charset=utf-8", cacheControl: "no-cache" });
  });

  it("answers undefined for missing files, folders and the root itself", async () => {
    const files = new WebAppFiles(dir);
    expect(await files.file("/nope.js")).toBeUndefined();
    expect(await files.file("/assets")).toBeUndefined();
    expect(await files.file("/")).toBeUndefined();
  });

  it("has no index when the app is not built", async () => {
    expect(await new WebAppFiles(join(dir, "missing")).index()).toBeUndefined();
  });
});
