import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";

/** The built package as its users meet it: imported by name from Node ESM and CJS, and bundled for a browser. */

const root = join(__dirname, "..");
const work = mkdtempSync(join(tmpdir(), "client-smoke-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: "utf8" });
}

describe("the built package", () => {
  it("imports from Node ESM, main and node entries", () => {
    const out = node([
      "--input-type=module",
      "-e",
      `import { createApiClient, upload, UploadGatewayError } from "@upload-gateway/client";
       import { uploadFile, nodeHttpTransport } from "@upload-gateway/client/node";
       console.log([typeof createApiClient, typeof upload, typeof UploadGatewayError, typeof uploadFile, typeof nodeHttpTransport].join(","));`,
    ]);
    expect(out.trim()).toBe("function,function,function,function,function");
  });

  it("requires from Node CJS, main and node entries", () => {
    const out = node([
      "-e",
      `const c = require("@upload-gateway/client"); const n = require("@upload-gateway/client/node");
       console.log([typeof c.createApiClient, typeof c.upload, typeof n.uploadFile].join(","));`,
    ]);
    expect(out.trim()).toBe("function,function,function");
  });

  it("bundles for a browser without Node built-ins", async () => {
    const entry = join(work, "entry.js");
    writeFileSync(
      entry,
      `import { upload, createApiClient } from "@upload-gateway/client"; window.upload = upload; window.c = createApiClient;`,
    );
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      platform: "browser",
      format: "esm",
      // Resolve the package by name to this folder, as a bundler would from node_modules (through its exports map).
      alias: { "@upload-gateway/client": root },
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/require\(["']node:|from ["']node:/);
    expect(code).toContain("XMLHttpRequest");
  });
});
