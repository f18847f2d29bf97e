import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useDemoPage } from "./support/demo-page";
import { MiB } from "./support/test-files";
import { openUppy6Page, uppy6Bundle } from "./support/uppy6-page";

/**
 * Real Uppy 6 (`@uppy/core`, `@uppy/aws-s3` 6.3 and its Dashboard) with `@upload-gateway/uppy`'s
 * `gatewaySignRequestOptions`, in Chromium, against the built gateway with its embedded store: files chosen in the
 * Dashboard and sent with its Upload button, with an upload token (the page never holds the API key), in the gateway's
 * part plan, paused and resumed, cancelled, and in one PUT for a small file; the stored bytes are identical.
 */

let kit: { script: string; styles: string };
const demo = useDemoPage({
  // The page is the gateway's own origin with a script added: past its Content-Security-Policy.
  browser: { bypassCSP: true },
  alongside: async () => {
    kit = await uppy6Bundle();
  },
});

interface Outcome {
  successful: { key?: string; uploadURL?: string }[];
  failed: string[];
}

/** Requests the page made, as `METHOD path` (query left out), and every Authorization header it sent. */
function recordRequests(): { seen: string[]; authorizations: string[] } {
  const seen: string[] = [];
  const authorizations: string[] = [];
  demo.browser.page.on("request", (request) => {
    if (request.url().startsWith("data:")) return;
    seen.push(`${request.method()} ${new URL(request.url()).pathname}`);
    const authorization = request.headers()["authorization"];
    if (authorization) authorizations.push(authorization);
  });
  return { seen, authorizations };
}

/** Opens the page with the app's backend as `window.mintUploadToken` (the key stays in the test), then Uppy 6. */
async function openPage(partSize: number): Promise<{ minted: () => number }> {
  let minted = 0;
  await demo.browser.page.exposeFunction("mintUploadToken", async () => {
    minted += 1;
    const { token } = await demo.gateway.api.createUploadToken(demo.gateway.projectId, {
      subject: "uppy6-page",
      expiresInSeconds: 600,
    });
    return token;
  });
  const { url: gatewayUrl, projectId } = demo.gateway;
  await openUppy6Page(demo.browser.page, kit, { gatewayUrl, projectId, partSize });
  return { minted: () => minted };
}

/** Chooses a file in the Dashboard (its file input), as a person does, and presses its Upload button. */
async function chooseAndUpload(path: string): Promise<void> {
  const page = demo.browser.page;
  await page.locator(".uppy-Dashboard-input").first().setInputFiles(path);
  await page.getByRole("button", { name: /^Upload 1 file/ }).click();
}

const outcome = () => demo.browser.page.evaluate(() => (window as any).uppyRun as Promise<Outcome>);

/** The file at a URL, as a SHA-256. */
async function sha256At(url: string): Promise<string> {
  const response = await fetch(new URL(url, demo.gateway.url));
  expect(response.status).toBe(200);
  return createHash("sha256")
    .update(Buffer.from(await response.arrayBuffer()))
    .digest("hex");
}

/** The stored file, downloaded through the gateway's download URL, as a SHA-256. */
async function storedSha256(requestKey: string): Promise<string> {
  return sha256At((await demo.gateway.api.downloadUrl(demo.gateway.projectId, requestKey)).downloadPath);
}

const api = () => `/api/projects/${demo.gateway.projectId}/uploads`;

/** The page's calls carried a token, never the project's API key. */
function expectTokensOnly(authorizations: string[], minted: number) {
  expect(authorizations.length).toBeGreaterThan(0);
  expect(authorizations.every((a) => a.startsWith("Bearer ey"))).toBe(true);
  expect(authorizations.some((a) => a.includes(demo.gateway.apiKey))).toBe(false);
  expect(minted).toBeGreaterThanOrEqual(1);
}

describe("Uppy 6 (signRequest) through @upload-gateway/uppy", () => {
  it("uploads a file chosen in the Dashboard in the gateway's part plan, with a token; bytes identical", async () => {
    // 20 MiB + 3 bytes at 8 MiB parts: the gateway plans 3 even parts of 6.67 MiB, and Uppy cuts exactly those.
    const file = demo.files.make("clip.mp4", 20 * MiB + 3);
    const { minted } = await openPage(8 * MiB);
    const { seen, authorizations } = recordRequests();
    await chooseAndUpload(file.path);
    const result = await outcome();
    expect(result.failed).toEqual([]);
    const requestKey = result.successful[0]!.key!;
    const details = await demo.gateway.api.get(demo.gateway.projectId, requestKey);
    expect(details).toMatchObject({
      state: "completed",
      contentLength: String(file.size),
      partsNumber: 3,
      partSize: 6_990_508,
    });
    expect(await storedSha256(requestKey)).toBe(file.sha256);
    // Uppy's uploadURL is the gateway's download URL (the complete reply's Location).
    expect(await sha256At(result.successful[0]!.uploadURL!)).toBe(file.sha256);
    expect(seen).toContain(`POST ${api()}/multipart`);
    expect(seen).toContain(`PUT ${api()}/multipart-complete`);
    expect(seen.filter((r) => r.startsWith("PUT /storage/"))).toHaveLength(3);
    expectTokensOnly(authorizations, minted());
    // The Dashboard says it is done.
    await demo.browser.page.getByText("Complete", { exact: true }).first().waitFor();
  });

  it("pauses (nothing more is stored) and resumes: list parts asks the gateway, the missing parts follow", async () => {
    const file = demo.files.make("paused.mp4", 30 * MiB);
    await openPage(5 * MiB);
    const { seen } = recordRequests();
    await demo.browser.page.evaluate(() => {
      const w = window as any;
      w.uppy.on("s3-multipart:part-uploaded", (f: { id: string }) => {
        if (w.partsUploaded === 2) w.uppy.pauseResume(f.id);
      });
    });
    await chooseAndUpload(file.path);
    await demo.browser.page.waitForFunction(() => (window as any).partsUploaded >= 2);
    const [upload] = (await demo.gateway.api.list(demo.gateway.projectId, { limit: 100 })).uploads.filter(
      (u) => u.fileName === "paused.mp4",
    );
    const requestKey = upload!.requestKey;
    // A part cut short by the pause is not stored; after a moment nothing more arrives.
    await new Promise((r) => setTimeout(r, 500));
    const atPause = (await demo.gateway.api.get(demo.gateway.projectId, requestKey)).uploadedParts.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await demo.gateway.api.get(demo.gateway.projectId, requestKey)).uploadedParts.length).toBe(atPause);
    expect(atPause).toBe(2);

    const putsBeforeResume = seen.filter((r) => r.startsWith("PUT /storage/")).length;
    await demo.browser.page.evaluate(() => (window as any).uppy.resumeAll());
    const result = await outcome();
    expect(result.failed).toEqual([]);
    expect(result.successful[0]!.key).toBe(requestKey);
    expect(await storedSha256(requestKey)).toBe(file.sha256);
    expect(seen).toContain(`POST ${api()}/multipart-resume`);
    expect(seen.filter((r) => r.startsWith("PUT /storage/")).length - putsBeforeResume).toBe(6 - atPause);
  });

  it("aborts the upload on the gateway when the file is removed mid-upload", async () => {
    const file = demo.files.make("removed.mp4", 30 * MiB);
    await openPage(5 * MiB);
    await chooseAndUpload(file.path);
    await demo.browser.page.waitForFunction(() => (window as any).partsUploaded >= 1);
    await demo.browser.page.evaluate(() => {
      const w = window as any;
      w.uppy.removeFile(w.uppy.getFiles()[0].id);
    });
    const [upload] = (await demo.gateway.api.list(demo.gateway.projectId, { limit: 100 })).uploads.filter(
      (u) => u.fileName === "removed.mp4",
    );
    const state = async () => (await demo.gateway.api.get(demo.gateway.projectId, upload!.requestKey)).state;
    await expect.poll(state).toBe("aborted");
  });

  it("sends a file of one part or less in one PUT (POST /url), completed on the gateway, bytes identical", async () => {
    // Within one 8 MiB part: one PUT, with the headers its URL was signed for.
    const file = demo.files.make("small.png", 7 * MiB);
    const { minted } = await openPage(8 * MiB);
    const { seen, authorizations } = recordRequests();
    await chooseAndUpload(file.path);
    const result = await outcome();
    expect(result.failed).toEqual([]);
    const requestKey = result.successful[0]!.key!;
    expect((await demo.gateway.api.get(demo.gateway.projectId, requestKey)).state).toBe("completed");
    expect(await storedSha256(requestKey)).toBe(file.sha256);
    // The step after the PUT made Uppy's uploadURL the download URL (the PUT's own URL downloads nothing).
    expect(await sha256At(result.successful[0]!.uploadURL!)).toBe(file.sha256);
    expect(seen).toContain(`POST ${api()}/url`);
    expect(seen).toContain(`POST ${api()}/success/${requestKey}`);
    expect(seen.filter((r) => r.includes(`${api()}/multipart`))).toEqual([]);
    expect(seen.filter((r) => r.startsWith("PUT /storage/"))).toHaveLength(1);
    expectTokensOnly(authorizations, minted());
  });
});
