import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApiClient, upload } from "../src/index";
import { startGateway, type Gateway } from "./support/gateway";

// Starts the built server: seconds on a loaded 2-core machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

/** getToken against the built gateway: a page's uploads with tokens its backend mints, renewed when they expire. */

let gateway: Gateway;
beforeAll(async () => {
  gateway = await startGateway("local");
});
afterAll(async () => {
  await gateway?.close();
});

/** The app's backend: mints tokens for one user with the project's API key. */
function backend(expiresInSeconds: number) {
  const admin = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
  const subject = `user-${randomBytes(4).toString("hex")}`;
  return vi.fn(async () => (await admin.createUploadToken(gateway.projectId, { subject, expiresInSeconds })).token);
}

describe("upload tokens from the client", () => {
  it("upload() with getToken only: the bytes arrive identical", async () => {
    const getToken = backend(600);
    const bytes = randomBytes(6 * 1024 * 1024 + 123);
    const { requestKey } = await upload(new Blob([bytes]), {
      baseUrl: gateway.url,
      getToken,
      projectId: gateway.projectId,
      partSize: 5 * 1024 * 1024,
      fileName: "token.bin",
    });
    expect(getToken).toHaveBeenCalledTimes(1);
    const api = createApiClient({ baseUrl: gateway.url, getToken });
    const { downloadPath } = await api.downloadUrl(gateway.projectId, requestKey);
    const got = Buffer.from(await (await fetch(new URL(downloadPath, gateway.url))).arrayBuffer());
    expect(createHash("sha256").update(got).digest("hex")).toBe(createHash("sha256").update(bytes).digest("hex"));
  });

  it("a call that meets TOKEN_EXPIRED gets a fresh token and goes on with the same upload", async () => {
    const getToken = backend(1);
    const api = createApiClient({ baseUrl: gateway.url, getToken });
    const started = await api.start(gateway.projectId, {
      partsNumber: 1,
      fileName: "a.bin",
      contentLength: 5,
      mimeType: "application/octet-stream",
    });
    // A 1 s token lives from 1 s to just under 2 s (its expiry is a whole second, rounded up): expired after 2.1 s.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await api.get(gateway.projectId, started.requestKey)).state).toBe("uploading");
    expect(getToken).toHaveBeenCalledTimes(2);
    await expect(api.list(gateway.projectId)).rejects.toMatchObject({ status: 403 });
  });
});
