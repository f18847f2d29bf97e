import { describe, expect, it } from "vitest";
import { useDemoPage } from "./support/demo-page";
import { addRandomBlob, bundleForPage } from "./support/page-script";
import { MiB } from "./support/test-files";
import { partNumberOf } from "./support/upload-page";

/**
 * `@upload-gateway/client`'s `upload()` in Chromium, with the browser offline for 30 s in the middle of an upload
 * (the page context's `setOffline`): the upload waits for the `online` event without counting the time against its
 * retry budget (10 s here, a third of the outage), goes on by itself, and sends no stored part again.
 */

const OUTAGE_MS = 30_000;
const RETRY_FOR_MS = 10_000;
let script: string;
const demo = useDemoPage({
  // The page is the gateway's own origin with a script added: past its Content-Security-Policy.
  browser: { bypassCSP: true },
  alongside: async () => {
    script = await bundleForPage(`export { upload } from "@upload-gateway/client";`, "gatewayClient");
  },
});

describe("the client's uploader in a browser that goes offline", () => {
  it("waits while offline, resumes on the online event, and stores the identical file", async () => {
    const { page, context } = demo.browser;
    const { gateway } = demo;
    await page.goto(`${gateway.url}/health/live`);
    await page.addScriptTag({ content: script });
    const sha256 = await addRandomBlob(page, 8 * 5 * MiB);

    // Part PUTs the store answered with a success, and whether each came after the browser was back online.
    let online = true;
    const stored: { partNumber: number; afterOutage: boolean }[] = [];
    let wentOffline = false;
    page.on("response", (response) => {
      const partNumber = partNumberOf(response.url());
      if (response.request().method() === "PUT" && partNumber !== undefined && response.ok()) {
        stored.push({ partNumber, afterOutage: wentOffline && online });
      }
    });

    await page.evaluate(
      ({ baseUrl, apiKey, projectId, retryForMs }) => {
        const w = window as any;
        w.partsDone = 0;
        w.run = w.gatewayClient
          .upload(w.testBlob, {
            baseUrl,
            apiKey,
            projectId,
            fileName: "clip.mp4",
            partSize: 5 * 1024 * 1024,
            concurrency: 2,
            retryForMs,
            retry: { maxDelayMs: 2000 },
            onPartState: (_: number, state: string) => {
              if (state === "done") w.partsDone += 1;
            },
          })
          .then(
            (result: any) => ({ requestKey: result.requestKey, partsSent: result.partsSent }),
            (error: any) => ({ error: String(error) }),
          );
      },
      { baseUrl: gateway.url, apiKey: gateway.apiKey, projectId: gateway.projectId, retryForMs: RETRY_FOR_MS },
    );
    await page.waitForFunction(() => (window as any).partsDone >= 3);
    online = false;
    wentOffline = true;
    await context.setOffline(true);
    expect(await page.evaluate(() => navigator.onLine)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    online = true;
    await context.setOffline(false);

    const outcome = await page.evaluate(() => (window as any).run);
    expect(outcome).toMatchObject({ partsSent: 8 });
    // Parts went on after the outage, longer than the budget: the time offline was not counted.
    expect(stored.some((s) => s.afterOutage)).toBe(true);
    // Every part stored by exactly one PUT.
    for (let n = 1; n <= 8; n++)
      expect(
        stored.filter((s) => s.partNumber === n),
        `part ${n}`,
      ).toHaveLength(1);
    const { downloadPath } = await gateway.api.downloadUrl(gateway.projectId, outcome.requestKey);
    const download = await fetch(downloadPath);
    const digest = await crypto.subtle.digest("SHA-256", await download.arrayBuffer());
    expect(Buffer.from(digest).toString("hex")).toBe(sha256);
  });
});
