import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** The built package as its users meet it: imported by name from Node ESM (Uppy 5 is ESM only, and so is this).
 * Metadata, publint and attw: tooling/publish-check. */

const root = join(__dirname, "..");

describe("the built package", () => {
  it("imports from Node ESM and gives the options @uppy/aws-s3 needs", () => {
    const out = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { gatewayS3Options } from "@upload-gateway/uppy";
         const o = gatewayS3Options({ baseUrl: "http://127.0.0.1:9", apiKey: "k", projectId: "p", partSize: 8 * 1024 * 1024 });
         console.log(Object.keys(o).sort().join(","), o.getChunkSize({ size: 20 * 1024 * 1024 + 3 }));`,
      ],
      { cwd: root, encoding: "utf8" },
    );
    expect(out.trim()).toBe(
      "abortMultipartUpload,completeMultipartUpload,createMultipartUpload,getChunkSize,getUploadParameters,listParts,shouldUseMultipart,signPart,uploadPartBytes 6990508",
    );
  });

  it("gives Uppy 6's AwsS3 its signRequest options", () => {
    const out = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { gatewaySignRequestOptions } from "@upload-gateway/uppy";
         const uppy = { addPostProcessor() {}, getFile() {}, setFileState() {}, emit() {}, on() {} };
         const baseUrl = "http://127.0.0.1:9";
         const o = gatewaySignRequestOptions({ uppy, baseUrl, getToken: () => "t", projectId: "p" });
         console.log(Object.keys(o).sort().join(","), o.getChunkSize({ size: 20 * 1024 * 1024 + 3 }));`,
      ],
      { cwd: root, encoding: "utf8" },
    );
    expect(out.trim()).toBe("generateObjectKey,getChunkSize,shouldUseMultipart,signRequest 10485762");
  });
});
