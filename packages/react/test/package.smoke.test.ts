import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** The built package as its users meet it: imported by name from Node ESM and CJS. Metadata, publint and attw:
 * tooling/publish-check. */

const root = join(__dirname, "..");

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: "utf8" });
}

describe("the built package", () => {
  it("imports from Node ESM and requires from CJS, touching no browser global on import", () => {
    const names = "useUpload, useUploadQueue, useInterruptedUploads, UploadQueue, PendingUploads";
    const esm = node([
      "--input-type=module",
      "-e",
      `import { ${names} } from "@upload-gateway/react"; console.log([${names}].map((f) => typeof f).join(","));`,
    ]);
    expect(esm.trim()).toBe("function,function,function,function,function");
    const cjs = node([
      "-e",
      `const { ${names} } = require("@upload-gateway/react"); console.log([${names}].map((f) => typeof f).join(","));`,
    ]);
    expect(cjs.trim()).toBe("function,function,function,function,function");
  });
});
