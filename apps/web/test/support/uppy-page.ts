import { build } from "esbuild";
import type { Page } from "playwright-core";

/**
 * Uppy 5 (`@uppy/core` + `@uppy/aws-s3`) and `@upload-gateway/uppy`, bundled as one script for a page:
 * `window.uppyKit = { Uppy, AwsS3, gatewayS3Options }`.
 */
export async function uppyBundle(): Promise<string> {
  const out = await build({
    stdin: {
      contents: `export { default as Uppy } from "@uppy/core"; export { default as AwsS3 } from "@uppy/aws-s3"; export { gatewayS3Options } from "@upload-gateway/uppy";`,
      resolveDir: import.meta.dirname,
      loader: "js",
    },
    bundle: true,
    write: false,
    format: "iife",
    globalName: "uppyKit",
    platform: "browser",
    target: "es2022",
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

/**
 * A page on the gateway's origin (its health route: any page of that origin will do) with Uppy loaded and a Blob of
 * `size` random bytes as `window.testBlob`; returns the Blob's SHA-256 (hex).
 */
export async function openUppyPage(page: Page, gatewayUrl: string, script: string, size: number): Promise<string> {
  await page.goto(`${gatewayUrl}/health/live`);
  await page.addScriptTag({ content: script });
  return page.evaluate(async (size) => {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
    const w = window as unknown as { testBlob: Blob };
    w.testBlob = new Blob([bytes], { type: "video/mp4" });
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }, size);
}
