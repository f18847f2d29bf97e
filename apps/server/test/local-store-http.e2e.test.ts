import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "./support/gateway";

/** The embedded store's HTTP side (part PUTs and downloads at its signed URLs), through a listening gateway. */

const md5 = (data: Uint8Array) => createHash("md5").update(data).digest();
const quoted = (digest: Buffer) => `"${digest.toString("hex")}"`;

async function api(gw: TestGateway, method: string, path: string, body?: unknown) {
  const address = gw.app.getHttpServer().address() as { port: number };
  const response = await fetch(`http://127.0.0.1:${address.port}/api/projects/${gw.projectId}/uploads${path}`, {
    method,
    headers: { ...gw.auth, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function startUpload(gw: TestGateway, size: number) {
  const started = await api(gw, "POST", "/multipart", {
    partsNumber: 1,
    fileName: "clip.mp4",
    contentLength: String(size),
    mimeType: "video/mp4",
  });
  expect(started.status).toBe(200);
  return started.body.result as { requestKey: string; presignedUrl: { partNumber: number; presignedUrl: string }[] };
}

describe("embedded store over HTTP", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({}, "local");
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("checks a part's Content-MD5: a wrong digest gets 400 BAD_DIGEST and stores nothing, the right one 200", async () => {
    const data = randomBytes(100_000);
    const { requestKey, presignedUrl } = await startUpload(gw, data.length);
    const url = presignedUrl[0]!.presignedUrl;
    const wrong = await fetch(url, {
      method: "PUT",
      body: data,
      headers: { "content-md5": md5(Buffer.from("x")).toString("base64") },
    });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({
      success: false,
      statusCode: 400,
      errorDetails: [{ code: "BAD_DIGEST", retryable: false, message: expect.stringContaining("Content-MD5") }],
    });
    expect((await api(gw, "GET", `/${requestKey}`)).body.result.uploadedParts).toEqual([]);

    const malformed = await fetch(url, { method: "PUT", body: data, headers: { "content-md5": "not-a-digest" } });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({
      errorDetails: [{ code: "VALIDATION_FAILED", field: "Content-MD5" }],
    });

    const right = await fetch(url, {
      method: "PUT",
      body: data,
      headers: { "content-md5": md5(data).toString("base64") },
    });
    expect(right.status).toBe(200);
    expect(right.headers.get("etag")).toBe(quoted(md5(data)));
  });

  it("four writers of different bodies to one part URL, at once, 10 times: all 200, and one whole body is stored", async () => {
    for (let round = 0; round < 10; round++) {
      const size = 256 * 1024;
      const { requestKey, presignedUrl } = await startUpload(gw, size);
      const bodies = Array.from({ length: 4 }, () => randomBytes(size));
      const replies = await Promise.all(
        bodies.map((body) => fetch(presignedUrl[0]!.presignedUrl, { method: "PUT", body })),
      );
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const stored = (await api(gw, "GET", `/${requestKey}`)).body.result.uploadedParts;
      expect(stored).toHaveLength(1);
      const winner = bodies.find((body) => quoted(md5(body)) === stored[0].eTag);
      expect(winner).toBeDefined();
      const done = await api(gw, "PUT", "/multipart-complete", {
        requestKey,
        parts: [{ partNumber: 1, eTag: stored[0].eTag }],
      });
      expect(done.status).toBe(200);
      const link = await api(gw, "POST", `/success/${requestKey}`);
      const downloaded = Buffer.from(await (await fetch(link.body.result.downloadPath)).arrayBuffer());
      expect(downloaded.equals(winner!)).toBe(true);
    }
  });
});

describe("embedded store with opaque ETags (LOCAL_STORAGE_ETAGS=opaque, for testing clients)", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ LOCAL_STORAGE_ETAGS: "opaque" }, "local");
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("answers 32-hex ETags that are not the part's MD5, and completes with them", async () => {
    const data = randomBytes(50_000);
    const { requestKey, presignedUrl } = await startUpload(gw, data.length);
    const put = await fetch(presignedUrl[0]!.presignedUrl, { method: "PUT", body: data });
    const eTag = put.headers.get("etag")!;
    expect(eTag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(eTag).not.toBe(quoted(md5(data)));
    const done = await api(gw, "PUT", "/multipart-complete", { requestKey, parts: [{ partNumber: 1, eTag }] });
    expect(done.status).toBe(200);
  });
});
