import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useDemoPage } from "./support/demo-page";
import { MiB } from "./support/test-files";
import { openUppyPage, uppyBundle } from "./support/uppy-page";

/**
 * Real Uppy 5 (`@uppy/core` + `@uppy/aws-s3`) with the options of `@upload-gateway/uppy`, in Chromium, against the
 * built gateway with its embedded store: parts in the gateway's plan, pause and resume, one PUT for small files.
 */

let script: string;
const demo = useDemoPage({
  // The page is the gateway's own origin with a script added: past its Content-Security-Policy.
  browser: { bypassCSP: true },
  alongside: async () => {
    script = await uppyBundle();
  },
});

/** Requests the page made, as `METHOD path` (query left out). */
function recordRequests(): string[] {
  const seen: string[] = [];
  demo.browser.page.on("request", (request) => {
    const url = new URL(request.url());
    seen.push(`${request.method()} ${url.pathname}`);
  });
  return seen;
}

/** Starts Uppy on `window.testBlob` in the page; `window.uppyRun` settles with the outcome. */
async function startUppy(options: { partSize: number; pauseAfterParts?: number }) {
  await demo.browser.page.evaluate(
    ({ baseUrl, apiKey, projectId, partSize, pauseAfterParts }) => {
      const w = window as any;
      const { Uppy, AwsS3, gatewayS3Options } = w.uppyKit;
      const uppy = new Uppy({ autoProceed: false });
      uppy.use(AwsS3, { ...gatewayS3Options({ baseUrl, apiKey, projectId, partSize }), limit: 2 });
      const fileId = uppy.addFile({ name: "clip.mp4", type: "video/mp4", data: w.testBlob });
      w.uppy = uppy;
      w.partsUploaded = 0;
      w.paused = false;
      uppy.on("s3-multipart:part-uploaded", () => {
        w.partsUploaded += 1;
        if (pauseAfterParts !== undefined && w.partsUploaded === pauseAfterParts && !w.paused) {
          w.paused = true;
          uppy.pauseResume(fileId);
        }
      });
      w.uppyRun = uppy.upload().then((result: any) => ({
        successful: result.successful.map((f: any) => ({ key: f.s3Multipart?.key, uploadURL: f.uploadURL })),
        failed: result.failed.map((f: any) => String(f.error)),
      }));
    },
    { baseUrl: demo.gateway.url, apiKey: demo.gateway.apiKey, projectId: demo.gateway.projectId, ...options },
  );
}

const uppyOutcome = () =>
  demo.browser.page.evaluate(
    () => (window as any).uppyRun as Promise<{ successful: { key?: string; uploadURL?: string }[]; failed: string[] }>,
  );

/** The stored file, downloaded through the gateway's download URL, as a SHA-256. */
async function storedSha256(requestKey: string): Promise<string> {
  const { downloadPath } = await demo.gateway.api.downloadUrl(demo.gateway.projectId, requestKey);
  const response = await fetch(new URL(downloadPath, demo.gateway.url));
  expect(response.status).toBe(200);
  return createHash("sha256")
    .update(Buffer.from(await response.arrayBuffer()))
    .digest("hex");
}

async function onlyUpload() {
  const { uploads } = await demo.gateway.api.list(demo.gateway.projectId, { limit: 100 });
  return uploads;
}

describe("Uppy 5 through @upload-gateway/uppy", () => {
  it("uploads in the gateway's part plan (not Uppy's own 8 MiB chunks) and the stored bytes are identical", async () => {
    // 20 MiB + 3 bytes at 8 MiB parts: the gateway plans 3 even parts of 6.67 MiB; Uppy's own chunking would send
    // 8 + 8 + 4 MiB, which complete refuses.
    const size = 20 * MiB + 3;
    const sha256 = await openUppyPage(demo.browser.page, demo.gateway.url, script, size);
    const requests = recordRequests();
    await startUppy({ partSize: 8 * MiB });
    const outcome = await uppyOutcome();
    expect(outcome.failed).toEqual([]);
    const requestKey = outcome.successful[0]!.key!;
    const details = await demo.gateway.api.get(demo.gateway.projectId, requestKey);
    expect(details).toMatchObject({
      state: "completed",
      contentLength: String(size),
      partsNumber: 3,
      partSize: 6_990_508,
    });
    expect(await storedSha256(requestKey)).toBe(sha256);
    expect(outcome.successful[0]!.uploadURL).toMatch(/^http/);
    expect(requests.filter((r) => r.startsWith("PUT ") && !r.includes("/api/"))).toHaveLength(3);
    expect(requests).toContain(`POST /api/projects/${demo.gateway.projectId}/uploads/multipart`);
  });

  it("pauses (no part goes up while paused) and resumes: the missing parts only, then complete", async () => {
    const size = 30 * MiB;
    const sha256 = await openUppyPage(demo.browser.page, demo.gateway.url, script, size);
    const requests = recordRequests();
    await startUppy({ partSize: 5 * MiB, pauseAfterParts: 2 });
    await demo.browser.page.waitForFunction(() => (window as any).paused === true);
    const [upload] = await onlyUpload().then((all) =>
      all.filter((u) => u.fileName === "clip.mp4" && u.state === "uploading"),
    );
    const requestKey = upload!.requestKey;
    // Parts cut short by the pause are not stored; after a moment nothing more arrives.
    await new Promise((r) => setTimeout(r, 500));
    const atPause = (await demo.gateway.api.get(demo.gateway.projectId, requestKey)).uploadedParts.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await demo.gateway.api.get(demo.gateway.projectId, requestKey)).uploadedParts.length).toBe(atPause);
    expect(atPause).toBeGreaterThanOrEqual(2);
    expect(atPause).toBeLessThan(6);

    const putsBeforeResume = requests.filter((r) => r.startsWith("PUT /storage/")).length;
    await demo.browser.page.evaluate(() => (window as any).uppy.resumeAll());
    const outcome = await uppyOutcome();
    expect(outcome.failed).toEqual([]);
    expect(outcome.successful[0]!.key).toBe(requestKey);
    expect(await storedSha256(requestKey)).toBe(sha256);
    // Resuming asked the gateway which parts it has (and for fresh URLs), and sent only the others.
    expect(requests).toContain(`POST /api/projects/${demo.gateway.projectId}/uploads/multipart-resume`);
    expect(requests.filter((r) => r.startsWith("PUT /storage/")).length - putsBeforeResume).toBe(6 - atPause);
  });
  it("sends a file of one part or less in one PUT (POST /url), completed through the gateway, bytes identical", async () => {
    // Above Uppy's own 5 MiB floor for multipart, within one 8 MiB part: one PUT because the adapter says so.
    const size = 7 * MiB;
    const sha256 = await openUppyPage(demo.browser.page, demo.gateway.url, script, size);
    const requests = recordRequests();
    await startUppy({ partSize: 8 * MiB });
    const outcome = await uppyOutcome();
    expect(outcome.failed).toEqual([]);
    const uploads = await onlyUpload();
    const upload = uploads.find((u) => u.fileName === "clip.mp4" && u.contentLength === String(size))!;
    expect((await demo.gateway.api.get(demo.gateway.projectId, upload.requestKey)).state).toBe("completed");
    expect(await storedSha256(upload.requestKey)).toBe(sha256);
    expect(outcome.successful[0]!.uploadURL).toMatch(/^http/);
    const api = `/api/projects/${demo.gateway.projectId}/uploads`;
    expect(requests).toContain(`POST ${api}/url`);
    expect(requests).toContain(`POST ${api}/success/${upload.requestKey}`);
    expect(requests.filter((r) => r.includes(`${api}/multipart`))).toEqual([]);
    expect(requests.filter((r) => r.startsWith("PUT /storage/"))).toHaveLength(1);
  });
});
