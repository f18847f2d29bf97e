import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { bundleForPage } from "./page-script";

/** Resolves from the Uppy 6 folder (tooling/uppy6-page), whose `@uppy/*` are Uppy 6: this app's are Uppy 5. */
const fromUppy6 = createRequire(createRequire(import.meta.url).resolve("@upload-gateway/uppy6-page/package.json"));

/**
 * Uppy 6 (`@uppy/core`, `@uppy/aws-s3`, `@uppy/dashboard`) and `@upload-gateway/uppy`'s `gatewaySignRequestOptions`,
 * bundled as one script for a page (`window.uppy6Kit`), and the Dashboard's styles.
 */
export async function uppy6Bundle(): Promise<{ script: string; styles: string }> {
  const script = await bundleForPage(`export * from "@upload-gateway/uppy6-page";`, "uppy6Kit");
  const styles = ["@uppy/core/css/style.min.css", "@uppy/dashboard/css/style.min.css"]
    .map((file) => readFileSync(fromUppy6.resolve(file), "utf8"))
    .join("\n");
  return { script, styles };
}

/**
 * A page on the gateway's origin (its health route: any page of that origin will do) with Uppy 6's Dashboard inline
 * in `#uppy`, uploading through the gateway with `gatewaySignRequestOptions`. The page holds no API key: its
 * `getToken` asks `window.mintUploadToken`, which the test exposes as the app's backend. The page keeps `window.uppy`,
 * `window.partsUploaded`, and `window.uppyRun` (the outcome of the next `complete`).
 */
export async function openUppy6Page(
  page: Page,
  kit: { script: string; styles: string },
  options: { gatewayUrl: string; projectId: string; partSize: number },
): Promise<void> {
  await page.goto(`${options.gatewayUrl}/health/live`);
  await page.setContent(`<!doctype html><html><body><div id="uppy"></div></body></html>`);
  await page.addStyleTag({ content: kit.styles });
  await page.addScriptTag({ content: kit.script });
  await page.evaluate(({ gatewayUrl, projectId, partSize }) => {
    const w = window as any;
    const { Uppy, AwsS3, Dashboard, gatewaySignRequestOptions } = w.uppy6Kit;
    const uppy = new Uppy({ autoProceed: false });
    uppy.use(Dashboard, { inline: true, target: "#uppy", proudlyDisplayPoweredByUppy: false, height: 420 });
    const getToken = () => w.mintUploadToken() as Promise<string>;
    const gatewayOptions = gatewaySignRequestOptions({ uppy, baseUrl: gatewayUrl, getToken, projectId, partSize });
    uppy.use(AwsS3, { ...gatewayOptions, limit: 2 });
    w.uppy = uppy;
    w.partsUploaded = 0;
    uppy.on("s3-multipart:part-uploaded", () => (w.partsUploaded += 1));
    w.uppyRun = new Promise((resolve) =>
      uppy.on("complete", (result: any) =>
        resolve({
          successful: result.successful.map((f: any) => ({ key: f.response?.body?.key, uploadURL: f.uploadURL })),
          failed: result.failed.map((f: any) => String(f.error)),
        }),
      ),
    );
  }, options);
}
