import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBrowser, type Browser } from "./support/browser";
import { startDemoGateway, type DemoGateway } from "./support/demo-gateway";
import { startOtherOrigin, type OtherOrigin } from "./support/other-origin";
import { addRandomBlob, bundleForPage } from "./support/page-script";

/**
 * Someone else's web app calls the gateway from its own origin, as the README's browser example does: allowed through
 * CORS_ORIGINS or the project's allowedOrigins, it uploads; any other origin is blocked by Chromium itself, and the
 * client says so at once, naming the setting. (The headers in detail: apps/server/test/cors.e2e.test.ts.)
 */

let gateway: DemoGateway;
let allowed: OtherOrigin;
let projectAllowed: OtherOrigin;
let refused: OtherOrigin;
let browser: Browser;
let clientScript: string;
const PROJECT = "films";

beforeAll(async () => {
  [allowed, projectAllowed, refused] = await Promise.all([startOtherOrigin(), startOtherOrigin(), startOtherOrigin()]);
  gateway = await startDemoGateway(
    { id: PROJECT, apiKey: `key_${randomBytes(16).toString("hex")}`, allowedOrigins: [projectAllowed.url] },
    { CORS_ORIGINS: allowed.url },
  );
  [browser, clientScript] = await Promise.all([
    openBrowser(),
    bundleForPage(`export { upload } from "@upload-gateway/client";`, "gatewayClient"),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  await Promise.all([allowed, projectAllowed, refused].map((o) => o?.close()));
});

/** In the page: start a one-part upload, PUT the part to its URL, complete; what each step saw. */
async function uploadFromPage(origin: string) {
  const { page } = browser;
  const errors: string[] = [];
  const onConsole = (message: { type(): string; text(): string }) => {
    if (message.type() === "error") errors.push(message.text());
  };
  page.on("console", onConsole);
  try {
    await page.goto(origin);
    const result = await page.evaluate(
      async ({ base, apiKey, projectId }) => {
        const api = `${base}/api/projects/${projectId}/uploads`;
        const headers = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
        try {
          const bytes = new TextEncoder().encode("hello from another origin");
          const started = await fetch(`${api}/multipart`, {
            method: "POST",
            headers,
            body: JSON.stringify({
              partsNumber: 1,
              fileName: "hello.txt",
              contentLength: bytes.length,
              mimeType: "text/plain",
            }),
          });
          const start = await started.json();
          const part = await fetch(start.result.presignedUrl[0].presignedUrl, { method: "PUT", body: bytes });
          const eTag = part.headers.get("etag");
          const completed = await fetch(`${api}/multipart-complete`, {
            method: "PUT",
            headers,
            body: JSON.stringify({ requestKey: start.result.requestKey, parts: [{ partNumber: 1, eTag }] }),
          });
          return {
            ok: true,
            startStatus: started.status,
            eTag,
            completeStatus: completed.status,
            requestKey: start.result.requestKey as string,
          };
        } catch (error) {
          return { ok: false, error: String(error) };
        }
      },
      { base: gateway.url, apiKey: gateway.apiKey, projectId: PROJECT },
    );
    return { ...result, errors };
  } finally {
    page.off("console", onConsole);
  }
}

describe("a page on another origin", () => {
  it("uploads when CORS_ORIGINS allows its origin (start, part with its ETag, complete)", async () => {
    const result = await uploadFromPage(allowed.url);
    expect(result).toMatchObject({ ok: true, startStatus: 200, completeStatus: 200 });
    expect(result.eTag).toMatch(/^"[0-9a-f]{32}"$/);
    expect((await gateway.api.get(PROJECT, result.requestKey!)).state).toBe("completed");
  });

  it("uploads when the project's allowedOrigins lists its origin", async () => {
    const result = await uploadFromPage(projectAllowed.url);
    expect(result).toMatchObject({ ok: true, startStatus: 200, completeStatus: 200 });
  });

  it("uploads a small file with one PUT (POST /url, with the headers its answer lists), once, and the bytes come back identical", async () => {
    const { page } = browser;
    await page.goto(allowed.url);
    const result = await page.evaluate(
      async ({ base, apiKey, projectId }) => {
        const api = `${base}/api/projects/${projectId}/uploads`;
        const headers = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
        const hex = async (data: BufferSource) =>
          [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))]
            .map((b) => b.toString(16).padStart(2, "0"))
            .join("");
        const bytes = crypto.getRandomValues(new Uint8Array(60_000));
        const file = new File([bytes], "clip.webm", { type: "video/webm" });
        const started = await fetch(`${api}/url`, {
          method: "POST",
          headers,
          body: JSON.stringify({ fileName: file.name, mimeType: file.type, contentLength: String(file.size) }),
        });
        const start = await started.json();
        // The headers the URL is signed for, as the answer lists them (on S3: If-None-Match: *, it stores once, and the
        // canned ACL): a preflighted PUT.
        const putOnce = start.result.headers as Record<string, string>;
        const put = await fetch(start.result.url, { method: "PUT", body: file, headers: putOnce });
        const other = new File([crypto.getRandomValues(new Uint8Array(60_000))], "clip.webm", { type: "video/webm" });
        const again = await fetch(start.result.url, { method: "PUT", body: other, headers: putOnce });
        const confirmed = await fetch(`${api}/success/${start.result.requestKey}`, {
          method: "POST",
          headers: { authorization: headers.authorization },
        });
        const link = await confirmed.json();
        const download = await fetch(link.result.downloadPath);
        return {
          startStatus: started.status,
          putStatus: put.status,
          againStatus: again.status,
          eTag: put.headers.get("etag"),
          successStatus: confirmed.status,
          requestKey: start.result.requestKey as string,
          sent: await hex(bytes),
          received: await hex(await download.arrayBuffer()),
          downloadPath: link.result.downloadPath as string,
        };
      },
      { base: gateway.url, apiKey: gateway.apiKey, projectId: PROJECT },
    );
    // A second PUT to the used URL is refused, readably cross-origin, and the first file stays.
    expect(result).toMatchObject({ startStatus: 200, putStatus: 200, againStatus: 412, successStatus: 200 });
    expect(result.eTag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(result.received).toBe(result.sent);
    // The same bytes outside the browser too.
    const outside = new Uint8Array(await (await fetch(result.downloadPath)).arrayBuffer());
    expect(createHash("sha256").update(outside).digest("hex")).toBe(result.sent);
    expect(await gateway.api.get(PROJECT, result.requestKey)).toMatchObject({
      state: "completed",
      transfer: "single-put",
    });
  });

  it("is blocked by the browser when its origin is not allowed, and starts nothing", async () => {
    const before = (await gateway.api.list(PROJECT, { limit: 100 })).uploads.length;
    const result = await uploadFromPage(refused.url);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/Failed to fetch/);
    expect(result.errors.join("\n")).toMatch(/blocked by CORS policy/);
    expect((await gateway.api.list(PROJECT, { limit: 100 })).uploads.length).toBe(before);
  });

  /**
   * The client's `upload()` in a page on `origin` against `baseUrl`, with `retry` (the default policy when omitted):
   * how it failed, and the requests its fetch made (API calls, and no-cors probes apart).
   */
  async function clientUploadFromPage(
    origin: string,
    baseUrl: string,
    retry?: { retries: number; baseDelayMs: number; maxDelayMs: number },
  ) {
    const { page } = browser;
    await page.goto(origin);
    await page.addScriptTag({ content: clientScript });
    await addRandomBlob(page, 1000);
    return page.evaluate(
      async ({ baseUrl, apiKey, projectId, retry }) => {
        const w = window as any;
        const calls: string[] = [];
        const probes: string[] = [];
        const pageFetch = window.fetch.bind(window);
        // Counts what the client asks of fetch; the client takes the global fetch when it is created, below.
        window.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
          const url = input instanceof Request ? input.url : String(input);
          (init?.mode === "no-cors" ? probes : calls).push(`${init?.method ?? "GET"} ${url}`);
          return pageFetch(input, init);
        };
        try {
          await w.gatewayClient.upload(w.testBlob, {
            baseUrl,
            apiKey,
            projectId,
            fileName: "a.bin",
            ...(retry ? { retry } : {}),
          });
          return { ok: true, calls, probes };
        } catch (error: any) {
          return {
            ok: false,
            name: String(error?.name),
            message: String(error?.message),
            cause: String(error?.cause?.name),
            calls,
            probes,
          };
        } finally {
          window.fetch = pageFetch;
        }
      },
      { baseUrl, apiKey: gateway.apiKey, projectId: PROJECT, retry },
    );
  }

  it("gets the client's CORS error at once (default retries): it names CORS_ORIGINS, allowedOrigins and the page's origin", async () => {
    const before = (await gateway.api.list(PROJECT, { limit: 100 })).uploads.length;
    const result = await clientUploadFromPage(refused.url, gateway.url);
    expect(result).toMatchObject({ ok: false, name: "UploadFailedError", cause: "CorsRefusedError" });
    expect(result.message).toContain(`pages on ${refused.url}`);
    expect(result.message).toMatch(/CORS_ORIGINS.*allowedOrigins/);
    // One probe, the start sent twice (the second to be sure), no retries: the default policy would make 7 attempts.
    expect(result.probes).toEqual([`GET ${gateway.url}/health/live`]);
    expect(result.calls).toEqual(Array(2).fill(`POST ${gateway.url}/api/projects/${PROJECT}/uploads/url`));
    expect((await gateway.api.list(PROJECT, { limit: 100 })).uploads.length).toBe(before);
  });

  it("keeps retrying when nothing answers at all (the gateway is down), and says no answer", async () => {
    const down = await startOtherOrigin();
    await down.close(); // a port on loopback where nothing listens any more
    const result = await clientUploadFromPage(allowed.url, down.url, { retries: 2, baseDelayMs: 10, maxDelayMs: 20 });
    expect(result).toMatchObject({ ok: false, name: "UploadFailedError", cause: "NetworkError" });
    expect(result.message).toMatch(/No answer from/);
    expect(result.calls).toHaveLength(3);
    expect(result.probes).toHaveLength(3);
  });
});
