import type { Page } from "playwright-core";
import { addRandomBlob, bundleForPage } from "./page-script";

/**
 * Uppy 5 (`@uppy/core` + `@uppy/aws-s3`) and `@upload-gateway/uppy`, bundled as one script for a page:
 * `window.uppyKit = { Uppy, AwsS3, gatewayS3Options }`.
 */
export function uppyBundle(): Promise<string> {
  return bundleForPage(
    `export { default as Uppy } from "@uppy/core"; export { default as AwsS3 } from "@uppy/aws-s3"; export { gatewayS3Options } from "@upload-gateway/uppy";`,
    "uppyKit",
  );
}

/**
 * A page on the gateway's origin (its health route: any page of that origin will do) with Uppy loaded and a Blob of
 * `size` random bytes as `window.testBlob`; returns the Blob's SHA-256 (hex).
 */
export async function openUppyPage(page: Page, gatewayUrl: string, script: string, size: number): Promise<string> {
  await page.goto(`${gatewayUrl}/health/live`);
  await page.addScriptTag({ content: script });
  return addRandomBlob(page, size);
}
