import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "./support/gateway";
import { call, fieldsOf } from "./support/http";

const MiB = 1024 * 1024;
const seedBody = {
  partsNumber: 3,
  fileName: "movie.mp4",
  contentLength: String(10 * MiB + 1024),
  mimeType: "video/mp4",
};

let gw: TestGateway;
const uploads = (projectId = gw.projectId) => `/api/projects/${projectId}/uploads`;
const start = (body: unknown = seedBody, projectId?: string, headers = gw.auth) =>
  call(gw.app, "POST", `${uploads(projectId)}/multipart`, { body, headers });

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw?.close();
});

describe("start", () => {
  it("answers the seed's request with the seed's envelope and three part URLs", async () => {
    const { status, body } = await start();
    expect(status).toBe(200);
    expect(body).toMatchObject({ success: true, errors: [], messages: [], resultInfo: null, statusCode: 200 });
    expect(Object.keys(body).sort()).toEqual(["errors", "messages", "result", "resultInfo", "statusCode", "success"]);
    expect(body.result).toMatchObject({
      uploadId: expect.any(String),
      requestKey: expect.stringMatching(/^[0-9]{13}[A-Za-z0-9_-]{22}$/),
      partSize: 5 * MiB,
      partsNumber: 3,
      contentLength: String(10 * MiB + 1024),
      expiresAt: expect.any(String),
    });
    expect(body.result.presignedUrl.map((p: { partNumber: number }) => p.partNumber)).toEqual([1, 2, 3]);
    for (const { presignedUrl, partNumber } of body.result.presignedUrl) {
      const url = new URL(presignedUrl);
      expect(url.pathname).toContain(`/projects/${gw.projectId}/files/${body.result.requestKey}`);
      expect(url.searchParams.get("uploadId")).toBe(body.result.uploadId);
      expect(url.searchParams.get("partNumber")).toBe(String(partNumber));
      expect(url.searchParams.get("X-Amz-Expires")).toBe(String(12 * 3600));
    }
  });

  it("accepts contentLength as a JSON integer and honours presignedUrlExpiryTimeHours", async () => {
    const { status, body } = await start({
      ...seedBody,
      contentLength: 10 * MiB + 1024,
      presignedUrlExpiryTimeHours: 2,
    });
    expect(status).toBe(200);
    expect(new URL(body.result.presignedUrl[0].presignedUrl).searchParams.get("X-Amz-Expires")).toBe("7200");
  });

  it("never builds a storage key from the file name", async () => {
    const { status, body } = await start({ ...seedBody, fileName: "../../../other-project/files/x\u00e9.mp4" });
    expect(status).toBe(200);
    const url = new URL(body.result.presignedUrl[0].presignedUrl);
    expect(decodeURIComponent(url.pathname)).not.toContain("..");
    expect(url.pathname).toContain(`/projects/${gw.projectId}/files/`);
  });

  it.each([
    [{ ...seedBody, partsNumber: 0 }, "partsNumber"],
    [{ ...seedBody, partsNumber: 10_001 }, "partsNumber"],
    [{ ...seedBody, partsNumber: "3" }, "partsNumber"],
    [{ ...seedBody, partsNumber: 4 }, "partsNumber"], // 4 parts of >= 5 MiB cannot hold 10 MiB + 1 KiB
    [{ ...seedBody, contentLength: "0" }, "contentLength"],
    [{ ...seedBody, contentLength: "ten" }, "contentLength"],
    [{ ...seedBody, contentLength: String(5 * 1024 ** 4 + 1) }, "contentLength"],
    [{ ...seedBody, fileName: "" }, "fileName"],
    [{ ...seedBody, fileName: "a\u0000b.mp4" }, "fileName"],
    [{ ...seedBody, mimeType: "mp4" }, "mimeType"],
    [{ ...seedBody, presignedUrlExpiryTimeHours: 200 }, "presignedUrlExpiryTimeHours"],
    [{ ...seedBody, enableDuplicateCheck: true }, "fileHash"],
    [{ partsNumber: 3, contentLength: "10486784", mimeType: "video/mp4" }, "fileName"],
    [{ ...seedBody, metadata: { title: "a\u0000b" } }, "metadata.title"],
    [{ ...seedBody, metadata: { title: "\ud800" } }, "metadata.title"],
    [{ ...seedBody, metadata: { title: 42 } }, "metadata.title"],
    [{ ...seedBody, metadata: { title: "x".repeat(1025) } }, "metadata.title"],
    [{ ...seedBody, metadata: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])) }, "metadata"],
    [{ ...seedBody, metadata: ["title"] }, "metadata"],
  ])("refuses %j with 400 naming %s", async (input, field) => {
    const { status, body } = await start(input);
    expect(status).toBe(400);
    expect(body).toMatchObject({ success: false, result: null, statusCode: 400 });
    expect(fieldsOf(body)).toEqual([field]);
    expect(body.errorDetails[0]).toMatchObject({ code: "VALIDATION_FAILED", retryable: false });
    expect(body.errors[0]).toMatch(new RegExp(`^${field}: .+`));
  });

  it("lists every problem of a body at once", async () => {
    const { status, body } = await start({ partsNumber: -1, fileName: "", contentLength: "x", mimeType: "?" });
    expect(status).toBe(400);
    expect(fieldsOf(body).sort()).toEqual(["contentLength", "fileName", "mimeType", "partsNumber"]);
    expect(body.errors).toHaveLength(4);
  });

  it("enforces the project's MIME types and size limit", async () => {
    const restricted = gw.restrictedProjectId;
    const pdf = await start({ ...seedBody, mimeType: "application/pdf" }, restricted);
    expect(pdf.status).toBe(415);
    expect(pdf.body.errorDetails).toEqual([
      expect.objectContaining({ code: "MIME_TYPE_NOT_ALLOWED", field: "mimeType" }),
    ]);
    const big = await start({ ...seedBody, partsNumber: 5, contentLength: String(21 * MiB) }, restricted);
    expect(big.status).toBe(413);
    expect(big.body.errorDetails).toEqual([
      expect.objectContaining({ code: "FILE_TOO_LARGE", field: "contentLength" }),
    ]);
    expect((await start(seedBody, restricted)).status).toBe(200);
  });
});

describe("big starts", () => {
  it("answers a 10,000-part start compressed for clients that accept it, with every URL in order", async () => {
    const body = { ...seedBody, partsNumber: 10_000, contentLength: String(10_000 * 5 * MiB) };
    for (const encoding of ["br", "gzip"] as const) {
      const reply = await gw.app.inject({
        method: "POST",
        url: `${uploads()}/multipart`,
        headers: { ...gw.auth, "content-type": "application/json", "accept-encoding": encoding },
        payload: JSON.stringify(body),
      });
      expect(reply.statusCode).toBe(200);
      expect(reply.headers["content-encoding"]).toBe(encoding);
      const raw = encoding === "br" ? brotliDecompressSync(reply.rawPayload) : gunzipSync(reply.rawPayload);
      expect(reply.rawPayload.length).toBeLessThan(raw.length / 3);
      const parsed = JSON.parse(raw.toString("utf8"));
      expect(parsed.result.presignedUrl).toHaveLength(10_000);
      expect(parsed.result.presignedUrl.every((p: { partNumber: number }, i: number) => p.partNumber === i + 1)).toBe(
        true,
      );
    }
  });

  it("answers small replies and clients that accept no encoding uncompressed", async () => {
    const reply = await gw.app.inject({ method: "GET", url: "/health/live", headers: { "accept-encoding": "gzip" } });
    expect(reply.headers["content-encoding"]).toBeUndefined();
    const plain = await call(gw.app, "POST", `${uploads()}/multipart`, { body: seedBody, headers: gw.auth });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    // A few parts' reply (~2 KB) fits TCP's initial window: compressing it would cost more than it saves.
    const small = await gw.app.inject({
      method: "POST",
      url: `${uploads()}/multipart`,
      headers: { ...gw.auth, "content-type": "application/json", "accept-encoding": "gzip, br" },
      payload: JSON.stringify(seedBody),
    });
    expect(small.statusCode).toBe(200);
    expect(small.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(small.payload).result.presignedUrl.length).toBe(seedBody.partsNumber);
  });
});

describe("auth", () => {
  it.each([
    ["no Authorization header", {}, 401, "UNAUTHORIZED"],
    ["an unknown key", { authorization: "Bearer nope" }, 401, "UNAUTHORIZED"],
    ["a non-Bearer scheme", { authorization: "Basic Zm9vOmJhcg==" }, 401, "UNAUTHORIZED"],
  ])("answers 401 for %s", async (_, headers, status, code) => {
    for (const [method, path] of [
      ["POST", "/multipart"],
      ["GET", ""],
      ["PUT", "/multipart-abort"],
    ] as const) {
      const reply = await call(gw.app, method, `${uploads()}${path}`, {
        headers,
        body: method === "GET" ? undefined : {},
      });
      expect(reply.status).toBe(status);
      expect(reply.body).toMatchObject({ success: false, statusCode: status, errorDetails: [{ code }] });
    }
  });

  it("answers 403 for a key not allowed on the project", async () => {
    const reply = await start(seedBody, gw.foreignProjectId);
    expect(reply.status).toBe(403);
    expect(reply.body.errorDetails[0].code).toBe("FORBIDDEN");
    const own = await start(seedBody, gw.foreignProjectId, { authorization: `Bearer ${gw.foreignKey}` });
    expect(own.status).toBe(200);
  });

  it("answers 404 for an unknown project", async () => {
    const reply = await start(seedBody, "no-such-project");
    expect(reply.status).toBe(404);
    expect(reply.body.errorDetails[0]).toMatchObject({ code: "PROJECT_NOT_FOUND", field: "projectId" });
  });

  it("checks the key before validating the body", async () => {
    const reply = await start({ nonsense: true }, gw.projectId, { authorization: "Bearer nope" });
    expect(reply.status).toBe(401);
  });

  it("keeps a request key valid only inside its project", async () => {
    const { body } = await start();
    const elsewhere = await call(gw.app, "GET", `${uploads(gw.restrictedProjectId)}/${body.result.requestKey}`, {
      headers: gw.auth,
    });
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.body.errorDetails[0].code).toBe("UPLOAD_NOT_FOUND");
  });
});

describe("Fastify's own errors are envelopes too", () => {
  it("malformed JSON → 400", async () => {
    const reply = await call(gw.app, "POST", `${uploads()}/multipart`, {
      rawBody: '{"partsNumber": 3,',
      headers: gw.auth,
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({
      success: false,
      statusCode: 400,
      errorDetails: [{ code: "MALFORMED_REQUEST" }],
    });
  });

  it("unknown route → 404", async () => {
    const reply = await call(gw.app, "GET", "/api/nothing-here");
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ success: false, statusCode: 404, errorDetails: [{ code: "ROUTE_NOT_FOUND" }] });
  });

  it("the dev session outside dev mode → 404, saying why", async () => {
    const reply = await call(gw.app, "GET", "/api/dev-session");
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ success: false, statusCode: 404, errorDetails: [{ code: "ROUTE_NOT_FOUND" }] });
    expect(reply.body.errors[0]).toContain("not in dev mode");
  });

  it("body too large → 413", async () => {
    const reply = await call(gw.app, "POST", `${uploads()}/multipart`, {
      rawBody: JSON.stringify({ ...seedBody, fileName: "x".repeat(3 * MiB) }),
      headers: gw.auth,
    });
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({
      success: false,
      statusCode: 413,
      errorDetails: [{ code: "PAYLOAD_TOO_LARGE" }],
    });
  });

  it("a body that is not JSON → 415", async () => {
    const reply = await call(gw.app, "POST", `${uploads()}/multipart`, {
      rawBody: "partsNumber=3",
      headers: { ...gw.auth, "content-type": "text/plain" },
    });
    expect(reply.status).toBe(415);
    expect(reply.body).toMatchObject({
      success: false,
      statusCode: 415,
      errorDetails: [{ code: "UNSUPPORTED_MEDIA_TYPE" }],
    });
  });
});

describe("get and list", () => {
  it("answers 404 for unknown and malformed request keys", async () => {
    for (const key of ["9999999999999AAAAAAAAAAAAAAAAAAAAAA", "..%2F..%2Fx", "x"]) {
      const reply = await call(gw.app, "GET", `${uploads()}/${key}`, { headers: gw.auth });
      expect(reply.status).toBe(404);
      expect(reply.body.errorDetails[0].code).toBe("UPLOAD_NOT_FOUND");
    }
  });

  it("shows an upload's state, plan and stored parts", async () => {
    const { body: started } = await start();
    const { status, body } = await call(gw.app, "GET", `${uploads()}/${started.result.requestKey}`, {
      headers: gw.auth,
    });
    expect(status).toBe(200);
    expect(body.result).toMatchObject({
      requestKey: started.result.requestKey,
      uploadId: started.result.uploadId,
      projectId: gw.projectId,
      fileName: "movie.mp4",
      mimeType: "video/mp4",
      contentLength: String(10 * MiB + 1024),
      state: "uploading",
      partSize: 5 * MiB,
      partsNumber: 3,
      uploadedParts: [],
      completedAt: null,
      abortedAt: null,
    });
  });

  // Issue 25: sizes past the 32-bit marks and up to 5 TiB are planned, kept and returned exactly.
  it.each([
    [4 * 1024 * MiB + 1, 2],
    [5 * 1024 * MiB + 3, 2],
    [5 * 1024 * 1024 * MiB, 1100],
  ])("plans, keeps and returns a file of %i bytes exactly", async (size, partsNumber) => {
    const { body: started } = await start({ ...seedBody, contentLength: String(size), partsNumber });
    const partSize = Math.ceil(size / partsNumber);
    expect(started.result).toMatchObject({ contentLength: String(size), partsNumber, partSize });
    const { body } = await call(gw.app, "GET", `${uploads()}/${started.result.requestKey}`, { headers: gw.auth });
    expect(body.result).toMatchObject({ contentLength: String(size), partsNumber, partSize });
  });

  it("keeps the start's metadata and returns it from status and list", async () => {
    const metadata = { title: "Été 🎬", ownerId: "42", empty: "" };
    const { body: started } = await start({ ...seedBody, metadata });
    expect(started.success).toBe(true);
    const { requestKey } = started.result;
    const status = await call(gw.app, "GET", `${uploads()}/${requestKey}`, { headers: gw.auth });
    expect(status.body.result.metadata).toEqual(metadata);
    const list = await call(gw.app, "GET", `${uploads()}?limit=100`, { headers: gw.auth });
    const listed = list.body.result.uploads.find((u: { requestKey: string }) => u.requestKey === requestKey);
    expect(listed.metadata).toEqual(metadata);
    const { body: plain } = await start();
    const plainStatus = await call(gw.app, "GET", `${uploads()}/${plain.result.requestKey}`, { headers: gw.auth });
    expect(plainStatus.body.result.metadata).toEqual({});
  });

  it("lists uploads newest first, page by page", async () => {
    const isolated = await startGateway();
    try {
      const keys: string[] = [];
      for (let i = 0; i < 5; i++) {
        const reply = await call(isolated.app, "POST", `/api/projects/${isolated.projectId}/uploads/multipart`, {
          body: { ...seedBody, fileName: `f${i}.mp4` },
          headers: isolated.auth,
        });
        keys.push(reply.body.result.requestKey);
        await new Promise((r) => setTimeout(r, 3)); // distinct milliseconds
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
        const reply = await call(isolated.app, "GET", `/api/projects/${isolated.projectId}/uploads${query}`, {
          headers: isolated.auth,
        });
        expect(reply.status).toBe(200);
        expect(reply.body.result.uploads.length).toBeLessThanOrEqual(2);
        seen.push(...reply.body.result.uploads.map((u: { requestKey: string }) => u.requestKey));
        cursor = reply.body.result.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual([...keys].reverse());
      expect(pages).toBe(3);
    } finally {
      await isolated.close();
    }
  });

  it("refuses a bad limit or cursor naming the field", async () => {
    const limit = await call(gw.app, "GET", `${uploads()}?limit=1000`, { headers: gw.auth });
    expect(limit.status).toBe(400);
    expect(fieldsOf(limit.body)).toEqual(["limit"]);
    const cursor = await call(gw.app, "GET", `${uploads()}?cursor=..%2Fsecrets`, { headers: gw.auth });
    expect(cursor.status).toBe(400);
    expect(fieldsOf(cursor.body)).toEqual(["cursor"]);
  });
});

describe("health", () => {
  it("is ready when the bucket answers, without an API key", async () => {
    const ready = await call(gw.app, "GET", "/health/ready");
    expect(ready.status).toBe(200);
    expect(ready.body.result).toEqual({ status: "ok", storage: "s3" });
  });
});

describe("storage outage", () => {
  it("answers 503 in the envelope when S3 cannot be reached", async () => {
    const down = await startGateway({ S3_ENDPOINT: "http://127.0.0.1:9" });
    try {
      const reply = await call(down.app, "POST", `/api/projects/${down.projectId}/uploads/multipart`, {
        body: seedBody,
        headers: down.auth,
      });
      expect(reply.status).toBe(503);
      expect(reply.body).toMatchObject({
        success: false,
        statusCode: 503,
        errorDetails: [{ code: "STORAGE_UNAVAILABLE", retryable: true }],
      });
      // Clients back off on their own, but not sooner than the gateway asks.
      expect(reply.headers["retry-after"]).toBe("5");
      const ready = await call(down.app, "GET", "/health/ready");
      expect(ready.status).toBe(503);
      expect(ready.body.errorDetails[0].code).toBe("STORAGE_UNAVAILABLE");
      expect(ready.body.errors).toEqual(["The s3 storage is not ready."]);
      expect((await call(down.app, "GET", "/health/live")).status).toBe(200);
    } finally {
      await down.close();
    }
  });
});
