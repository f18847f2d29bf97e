import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApiClient } from "@upload-gateway/client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openBrowser, type Browser } from "./support/browser";
import { startDemoGateway, type DemoGateway } from "./support/demo-gateway";
import { startOtherOrigin, type OtherOrigin } from "./support/other-origin";
import { addRandomBlob, bundleForPage } from "./support/page-script";
import { MiB } from "./support/test-files";

/**
 * Someone else's web app as the README tells it to work: its page on its own origin never sees an API key; its backend
 * mints short-lived upload tokens with the key, and the page's `upload()` gets them through `getToken`. In parts and
 * with one PUT the bytes arrive identical; a token for another project, an expired token and a page on an origin the
 * gateway does not allow are refused. (Tokens in detail: apps/server/test and packages/client/test.)
 */

// Starts the built gateway and Chromium, and sends 12 MiB through the page: seconds on a loaded 2-core machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const PROJECT = "films";
const OTHER_PROJECT = "music";

let gateway: DemoGateway;
let allowed: OtherOrigin;
let refused: OtherOrigin;
let backend: AppBackend;
let browser: Browser;
let clientScript: string;

interface AppBackend {
  url: string;
  /** Tokens minted so far. */
  minted: number;
  close(): Promise<void>;
}

/**
 * The app's own backend on loopback: `GET /upload-token?project=…&expiresInSeconds=…` mints a token with that
 * project's API key through the gateway's upload-tokens route, and answers the app's pages (any of `pageOrigins`)
 * with CORS, as a real backend of a web app on another origin would.
 */
async function startAppBackend(keys: Record<string, string>, pageOrigins: string[]): Promise<AppBackend> {
  const state = { minted: 0 };
  const server: Server = createServer((request, response) => {
    const origin = request.headers.origin;
    const cors: Record<string, string> =
      origin && pageOrigins.includes(origin) ? { "access-control-allow-origin": origin, vary: "Origin" } : {};
    if (request.method === "OPTIONS") {
      response.writeHead(204, cors).end();
      return;
    }
    const query = new URL(request.url ?? "/", "http://backend").searchParams;
    const projectId = query.get("project") ?? PROJECT;
    const admin = createApiClient({ baseUrl: gateway.url, apiKey: keys[projectId]! });
    admin
      .createUploadToken(projectId, {
        subject: "user-42",
        expiresInSeconds: Number(query.get("expiresInSeconds") ?? 600),
      })
      .then(({ token }) => {
        state.minted += 1;
        response.writeHead(200, { ...cors, "content-type": "application/json" }).end(JSON.stringify({ token }));
      })
      .catch((error: unknown) => response.writeHead(502, cors).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get minted() {
      return state.minted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

beforeAll(async () => {
  [allowed, refused] = await Promise.all([startOtherOrigin(), startOtherOrigin()]);
  const keys = {
    [PROJECT]: `key_${randomBytes(16).toString("hex")}`,
    [OTHER_PROJECT]: `key_${randomBytes(16).toString("hex")}`,
  };
  [gateway, clientScript, browser] = await Promise.all([
    startDemoGateway(
      [
        { id: PROJECT, apiKey: keys[PROJECT] },
        { id: OTHER_PROJECT, apiKey: keys[OTHER_PROJECT] },
      ],
      { CORS_ORIGINS: allowed.url },
    ),
    bundleForPage(`export { createApiClient, upload } from "@upload-gateway/client";`, "gatewayClient"),
    openBrowser(),
  ]);
  backend = await startAppBackend(keys, [allowed.url, refused.url]);
});
afterAll(async () => {
  await browser?.close();
  await backend?.close();
  await gateway?.close();
  await Promise.all([allowed, refused].map((o) => o?.close()));
});

interface PageUpload {
  ok: boolean;
  requestKey?: string;
  transfer?: string;
  partsNumber?: number;
  /** SHA-256 of the stored file, downloaded by the page through its download URL. */
  received?: string;
  /** Times `upload()` called `getToken`. */
  getTokenCalls: number;
  error?: { name: string; message: string; status?: number; codes?: string[] };
  /** Authorization headers the page sent, and the console errors it logged. */
  authorizations: string[];
  consoleErrors: string[];
}

/**
 * Opens `origin`'s page with the client loaded and `size` random bytes, then runs `upload()` there with `getToken`
 * alone (tokens from the app backend for `tokenProject`) on the gateway's project; returns what the page saw, and the
 * SHA-256 of the bytes it sent.
 */
async function uploadFromPage(
  origin: string,
  size: number,
  options: { tokenProject?: string; partSize?: number } = {},
): Promise<PageUpload & { sent: string }> {
  const { page } = browser;
  const authorizations: string[] = [];
  const consoleErrors: string[] = [];
  const onRequest = (request: { headers(): Record<string, string> }) => {
    const authorization = request.headers()["authorization"];
    if (authorization) authorizations.push(authorization);
  };
  const onConsole = (message: { type(): string; text(): string }) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  };
  page.on("request", onRequest);
  page.on("console", onConsole);
  try {
    await page.goto(origin);
    await page.addScriptTag({ content: clientScript });
    const sent = await addRandomBlob(page, size);
    const outcome = await page.evaluate(
      async ({ baseUrl, projectId, tokenUrl, partSize }) => {
        const w = window as any;
        const { createApiClient, upload } = w.gatewayClient;
        const hex = async (data: ArrayBuffer) =>
          [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))]
            .map((b) => b.toString(16).padStart(2, "0"))
            .join("");
        let getTokenCalls = 0;
        const getToken = async () => {
          getTokenCalls += 1;
          const reply = await fetch(tokenUrl);
          if (!reply.ok) throw new Error(`backend answered ${reply.status}`);
          return ((await reply.json()) as { token: string }).token;
        };
        try {
          const result = await upload(w.testBlob, {
            baseUrl,
            getToken,
            projectId,
            partSize,
            fileName: "clip.mp4",
            // A refusal is final; a blocked request is not worth six retries here.
            retry: { retries: 1, baseDelayMs: 50, maxDelayMs: 100 },
          });
          const callsDuringUpload = getTokenCalls;
          // The page's own download link, with a token of its own.
          const api = createApiClient({ baseUrl, getToken });
          const { downloadPath } = await api.downloadUrl(projectId, result.requestKey);
          const download = await fetch(new URL(downloadPath, baseUrl));
          return {
            ok: true,
            requestKey: result.requestKey as string,
            transfer: result.transfer as string,
            partsNumber: result.partsNumber as number,
            received: await hex(await download.arrayBuffer()),
            getTokenCalls: callsDuringUpload,
          };
        } catch (error: any) {
          const reply = error?.cause ?? error;
          return {
            ok: false,
            getTokenCalls,
            error: {
              name: String(error?.name),
              message: String(error?.message),
              status: reply?.status,
              codes: reply?.codes,
            },
          };
        }
      },
      {
        baseUrl: gateway.url,
        projectId: PROJECT,
        tokenUrl: `${backend.url}/upload-token?project=${options.tokenProject ?? PROJECT}`,
        partSize: options.partSize ?? 5 * MiB,
      },
    );
    return { ...outcome, sent, authorizations, consoleErrors };
  } finally {
    page.off("request", onRequest);
    page.off("console", onConsole);
  }
}

/** The stored file as the gateway's owner downloads it, as a SHA-256. */
async function storedSha256(requestKey: string): Promise<string> {
  const { downloadPath } = await gateway.api.downloadUrl(PROJECT, requestKey);
  const response = await fetch(new URL(downloadPath, gateway.url));
  expect(response.status).toBe(200);
  return createHash("sha256")
    .update(Buffer.from(await response.arrayBuffer()))
    .digest("hex");
}

const uploadsInProject = async () => (await gateway.api.list(PROJECT, { limit: 100 })).uploads.length;

describe("a page on another origin with upload tokens from its backend", () => {
  it("uploads 12 MiB in 5 MiB parts with getToken alone, and the stored bytes are identical", async () => {
    const mintedBefore = backend.minted;
    const result = await uploadFromPage(allowed.url, 12 * MiB);
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ ok: true, transfer: "multipart", partsNumber: 3, getTokenCalls: 1 });
    // Every token came from the app's backend: one for upload(), one for the page's download link.
    expect(backend.minted).toBe(mintedBefore + 2);
    // The page only ever sent tokens: never the API key.
    expect(result.authorizations.length).toBeGreaterThan(0);
    for (const authorization of result.authorizations) expect(authorization).toMatch(/^Bearer eyJ/);
    expect(result.received).toBe(result.sent);
    expect(await storedSha256(result.requestKey!)).toBe(result.sent);
    expect(await gateway.api.get(PROJECT, result.requestKey!)).toMatchObject({ state: "completed" });
  });

  it("uploads a small file with one PUT, and the stored bytes are identical", async () => {
    const result = await uploadFromPage(allowed.url, 300_000);
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ ok: true, transfer: "single-put", getTokenCalls: 1 });
    for (const authorization of result.authorizations) expect(authorization).toMatch(/^Bearer eyJ/);
    expect(result.received).toBe(result.sent);
    expect(await storedSha256(result.requestKey!)).toBe(result.sent);
    expect(await gateway.api.get(PROJECT, result.requestKey!)).toMatchObject({
      state: "completed",
      transfer: "single-put",
    });
  });
});

describe("refusals a page meets", () => {
  it("a token minted for another project is refused with 403 FORBIDDEN, and nothing starts", async () => {
    const before = await uploadsInProject();
    const result = await uploadFromPage(allowed.url, 300_000, { tokenProject: OTHER_PROJECT });
    expect(result.ok).toBe(false);
    expect(result.error).toMatchObject({ status: 403, codes: ["FORBIDDEN"] });
    // A refusal is not an expiry: the page asked its backend once.
    expect(result.getTokenCalls).toBe(1);
    expect(await uploadsInProject()).toBe(before);
  });

  it("an expired token gets 401 TOKEN_EXPIRED in the envelope, from a raw fetch and through the client", async () => {
    const { page } = browser;
    await page.goto(allowed.url);
    await page.addScriptTag({ content: clientScript });
    const result = await page.evaluate(
      async ({ baseUrl, projectId, tokenUrl }) => {
        const { createApiClient } = (window as any).gatewayClient;
        const { token } = (await (await fetch(tokenUrl)).json()) as { token: string };
        // From the second of `expiresAt` on, with no leeway: 1 s tokens are expired after 2 s.
        await new Promise((resolve) => setTimeout(resolve, 2100));
        const body = { partsNumber: 1, fileName: "late.bin", contentLength: 5, mimeType: "application/octet-stream" };
        const raw = await fetch(`${baseUrl}/api/projects/${projectId}/uploads/multipart`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        const envelope = await raw.json();
        // The client asks getToken once more on TOKEN_EXPIRED; this one keeps giving the expired token.
        let getTokenCalls = 0;
        const getToken = () => {
          getTokenCalls += 1;
          return token;
        };
        const api = createApiClient({ baseUrl, getToken });
        const thrown = await api.start(projectId, body).then(
          () => undefined,
          (error: any) => ({ name: error.name, status: error.status, codes: error.codes }),
        );
        return { rawStatus: raw.status, envelope, thrown, getTokenCalls };
      },
      {
        baseUrl: gateway.url,
        projectId: PROJECT,
        tokenUrl: `${backend.url}/upload-token?project=${PROJECT}&expiresInSeconds=1`,
      },
    );
    expect(result.rawStatus).toBe(401);
    expect(result.envelope).toMatchObject({ success: false, statusCode: 401, result: null });
    expect(result.envelope.errorDetails.map((d: { code: string }) => d.code)).toEqual(["TOKEN_EXPIRED"]);
    expect(result.thrown).toEqual({ name: "UploadGatewayError", status: 401, codes: ["TOKEN_EXPIRED"] });
    expect(result.getTokenCalls).toBe(2);
  });

  it("a page on an origin the gateway does not allow is blocked by the browser, token or not, and nothing starts", async () => {
    const before = await uploadsInProject();
    const result = await uploadFromPage(refused.url, 300_000);
    expect(result.ok).toBe(false);
    // Its backend gave it a token; the gateway's missing CORS headers stopped it, and the client says which.
    expect(result.getTokenCalls).toBe(1);
    expect(result.error?.message).toMatch(/CORS_ORIGINS/);
    expect(result.error?.message).toContain(refused.url);
    expect(result.consoleErrors.join("\n")).toMatch(/blocked by CORS policy/);
    expect(await uploadsInProject()).toBe(before);
  });
});
