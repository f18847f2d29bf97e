import { createHash, randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SINGLE_PUT_HEADERS } from "../src/storage/sigv4-presigner";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { objectKey } from "../src/uploads/upload-keys";
import { openMarkerOf } from "./support/workflow";
import { startGateway, type TestGateway } from "./support/gateway";
import { call, expectErrorEnvelope, fieldsOf } from "./support/http";

/**
 * `POST /url`, the single-PUT upload, on both stores (same test names): one presigned PUT bound to the file's length
 * and type, completed by `POST success/{requestKey}`, with status, list, abort, limits and races as for multipart.
 */

const GiB = 1024 ** 3;
const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("base64");
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TRUE_ENVELOPE = { success: true, errors: [], messages: [], result: true, resultInfo: null, statusCode: 200 };

describe.each(["local", "s3"] as const)("single-PUT upload on %s storage", (storage) => {
  let gw: TestGateway;
  let store: Storage;
  const uploads = (projectId = gw.projectId) => `/api/projects/${projectId}/uploads`;
  const startSingle = (body: unknown, options: { projectId?: string; idempotencyKey?: string } = {}) =>
    call(gw.app, "POST", `${uploads(options.projectId)}/url`, {
      body,
      headers: { ...gw.auth, ...(options.idempotencyKey ? { "idempotency-key": options.idempotencyKey } : {}) },
    });
  const success = (requestKey: string, projectId?: string) =>
    call(gw.app, "POST", `${uploads(projectId)}/success/${requestKey}`, { headers: gw.auth });
  const abort = (requestKey: string) =>
    call(gw.app, "PUT", `${uploads()}/multipart-abort`, { body: { requestKey }, headers: gw.auth });
  const status = (requestKey: string) => call(gw.app, "GET", `${uploads()}/${requestKey}`, { headers: gw.auth });
  // The headers `POST /url` answers (checked in the first test): none on the embedded store; on S3 If-None-Match: *
  // (the URL stores the file once) and the canned ACL, both signed into the URL.
  const storeHeaders: Record<string, string> = storage === "s3" ? { ...SINGLE_PUT_HEADERS } : {};
  const put = (url: string, data: Uint8Array, headers: Record<string, string> = {}) =>
    fetch(url, { method: "PUT", body: data, headers: { ...storeHeaders, ...headers } });

  /** A started single-PUT upload of `data` (random bytes when omitted). */
  async function started(data: Uint8Array = randomBytes(64 * 1024), fileName = "clip.mp4") {
    const reply = await startSingle({ fileName, mimeType: "video/mp4", contentLength: String(data.length) });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    return { ...(reply.body.result as { url: string; requestKey: string }), data };
  }

  async function downloaded(
    requestKey: string,
  ): Promise<{ bytes: Uint8Array; disposition: string | null; metadata: Record<string, string> }> {
    const link = await success(requestKey);
    expect(link.status, JSON.stringify(link.body)).toBe(200);
    const download = await fetch(link.body.result.downloadPath);
    expect(download.status).toBe(200);
    return {
      bytes: new Uint8Array(await download.arrayBuffer()),
      disposition: download.headers.get("content-disposition"),
      metadata: Object.fromEntries([...download.headers].filter(([name]) => name.startsWith("x-amz-meta-"))),
    };
  }

  beforeAll(async () => {
    gw = await startGateway({}, storage);
    store = gw.app.get<Storage>(STORAGE);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("start, PUT, success: the bytes come back identical; status and list show the upload; success again answers again", async () => {
    const data = randomBytes(300 * 1024);
    const reply = await startSingle({
      fileName: "clip.mp4",
      mimeType: "video/mp4",
      contentLength: data.length,
      metadata: { course: "101" },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ success: true, errors: [], messages: [], resultInfo: null, statusCode: 200 });
    const { url, requestKey } = reply.body.result;
    expect(reply.body.result).toEqual({
      url: expect.any(String),
      headers: storeHeaders,
      requestKey: expect.stringMatching(/^[0-9]{13}[A-Za-z0-9_-]{22}$/),
      contentLength: String(data.length),
      expiresAt: expect.any(String),
      integrity: { contentMd5: true, eTagIsMd5: true },
    });
    expect(new URL(url).pathname).toContain(`/projects/${gw.projectId}/files/${requestKey}`);

    const before = await status(requestKey);
    expect(before.body.result).toMatchObject({
      requestKey,
      uploadId: "",
      transfer: "single-put",
      state: "uploading",
      fileName: "clip.mp4",
      mimeType: "video/mp4",
      contentLength: String(data.length),
      partSize: data.length,
      partsNumber: 1,
      uploadedParts: [],
      completedAt: null,
      metadata: { course: "101" },
    });
    expect(await openMarkerOf(store, gw.projectId, requestKey)).toBeDefined();

    const stored = await put(url, data, { "content-md5": md5(data) });
    expect(stored.status).toBe(200);
    expect(stored.headers.get("etag")).toBe(`"${createHash("md5").update(data).digest("hex")}"`);

    const first = await downloaded(requestKey);
    expect(sha256(first.bytes)).toBe(sha256(data));
    expect(first.disposition).toContain("clip.mp4");
    // The object's metadata, as a multipart upload's object has it.
    expect(first.metadata).toEqual({ "x-amz-meta-file-name": "clip.mp4", "x-amz-meta-request-key": requestKey });
    expect(sha256((await downloaded(requestKey)).bytes)).toBe(sha256(data));

    const after = await status(requestKey);
    expect(after.body.result).toMatchObject({
      state: "completed",
      completedAt: expect.any(String),
      transfer: "single-put",
    });
    // Completed uploads no longer count as open.
    expect(await openMarkerOf(store, gw.projectId, requestKey)).toBeUndefined();
    const list = await call(gw.app, "GET", `${uploads()}?limit=100`, { headers: gw.auth });
    expect(list.body.result.uploads).toContainEqual(
      expect.objectContaining({
        requestKey,
        transfer: "single-put",
        state: "completed",
        contentLength: String(data.length),
      }),
    );
  });

  it("success before the PUT answers 409 UPLOAD_NOT_COMPLETED and changes nothing; after the PUT, 200", async () => {
    const upload = await started();
    const early = await success(upload.requestKey);
    expectErrorEnvelope(early, 409, "UPLOAD_NOT_COMPLETED");
    expect(early.body.errors[0]).toMatch(/not been stored yet/);
    expect((await status(upload.requestKey)).body.result.state).toBe("uploading");
    expect((await put(upload.url, upload.data)).status).toBe(200);
    expect(sha256((await downloaded(upload.requestKey)).bytes)).toBe(sha256(upload.data));
  });

  it("the store refuses a body of another length, shorter or longer, and keeps nothing", async () => {
    const upload = await started(randomBytes(10_000));
    for (const wrong of [
      upload.data.subarray(0, 9_999),
      Buffer.concat([upload.data, Buffer.from("x")]),
      new Uint8Array(0),
    ]) {
      const refused = await put(upload.url, wrong);
      // S3 answers 403 (the signed content-length does not match); the embedded store 400 or 413 in the envelope.
      expect(storage === "s3" ? [403] : [400, 413]).toContain(refused.status);
      await refused.arrayBuffer();
      expect(await store.objectSize(objectKey(gw.projectId, upload.requestKey))).toBeUndefined();
    }
    expectErrorEnvelope(await success(upload.requestKey), 409, "UPLOAD_NOT_COMPLETED");
    expect((await put(upload.url, upload.data)).status).toBe(200);
    expect((await success(upload.requestKey)).status).toBe(200);
  });

  it("the PUT's Content-Type does not set the download's (the declared type does); a wrong Content-MD5 is refused", async () => {
    const upload = await started();
    const badDigest = await put(upload.url, upload.data, { "content-md5": md5(randomBytes(8)) });
    expect(badDigest.status).toBe(400);
    expect(await badDigest.text()).toMatch(/BadDigest|BAD_DIGEST/);
    expect(await store.objectSize(objectKey(gw.projectId, upload.requestKey))).toBeUndefined();
    expectErrorEnvelope(await success(upload.requestKey), 409, "UPLOAD_NOT_COMPLETED");
    const html = await put(upload.url, upload.data, { "content-type": "text/html" });
    expect(html.status).toBe(200);
    const link = await success(upload.requestKey);
    const download = await fetch(link.body.result.downloadPath);
    expect(download.headers.get("content-type")).toBe("video/mp4");
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(upload.data));
  });

  it("an empty file is one PUT of no bytes", async () => {
    const upload = await started(new Uint8Array(0), "empty.txt");
    expect((await put(upload.url, upload.data)).status).toBe(200);
    const { bytes } = await downloaded(upload.requestKey);
    expect(bytes.length).toBe(0);
  });

  it("two PUTs to one URL at once: exactly one stores its whole body, the other is refused with 412", async () => {
    for (let round = 0; round < 3; round++) {
      const upload = await started(randomBytes(256 * 1024));
      const other = randomBytes(upload.data.length);
      const replies = await Promise.all([
        put(upload.url, upload.data),
        sleep(round).then(() => put(upload.url, other)),
      ]);
      const statuses = replies.map((r) => r.status);
      await Promise.all(replies.map((r) => r.arrayBuffer()));
      // S3 may answer 409 (ConditionalRequestConflict) to the loser of a race it sees mid-write.
      expect(
        statuses.filter((s) => s === 200),
        String(statuses),
      ).toHaveLength(1);
      expect(
        statuses.every((s) => s === 200 || s === 412 || s === 409),
        String(statuses),
      ).toBe(true);
      const stored = sha256((await downloaded(upload.requestKey)).bytes);
      expect(stored).toBe(sha256(statuses[0] === 200 ? upload.data : other));
    }
  });

  it("the URL stores once: a PUT after success, or one without the answer's headers, is refused and the stored bytes stay", async () => {
    const upload = await started();
    expect((await put(upload.url, upload.data)).status).toBe(200);
    expect((await success(upload.requestKey)).status).toBe(200);
    const replaced = await put(upload.url, randomBytes(upload.data.length));
    expect(replaced.status).toBe(412);
    // The embedded store answers in the envelope; S3 with its PreconditionFailed document.
    if (storage === "local")
      expectErrorEnvelope({ status: replaced.status, body: await replaced.json() }, 412, "PRECONDITION_FAILED");
    else expect(await replaced.text()).toMatch(/PreconditionFailed/);
    // The body alone: on S3 refused (403, the signed headers are missing) before any condition is looked at; the
    // embedded store refuses it as stored already (412).
    const unconditional = await fetch(upload.url, { method: "PUT", body: randomBytes(upload.data.length) });
    expect(unconditional.status).toBe(storage === "s3" ? 403 : 412);
    await unconditional.arrayBuffer();
    expect(sha256((await downloaded(upload.requestKey)).bytes)).toBe(sha256(upload.data));
    expect((await status(upload.requestKey)).body.result.state).toBe("completed");
  });

  it("abort: before the PUT, after it (the object is removed), again (true again); success then answers 409", async () => {
    const unsent = await started();
    expect((await abort(unsent.requestKey)).body).toEqual(TRUE_ENVELOPE);
    expect((await status(unsent.requestKey)).body.result).toMatchObject({
      state: "aborted",
      abortedAt: expect.any(String),
    });

    const sent = await started();
    expect((await put(sent.url, sent.data)).status).toBe(200);
    expect(await store.objectSize(objectKey(gw.projectId, sent.requestKey))).toBe(sent.data.length);
    expect((await abort(sent.requestKey)).body).toEqual(TRUE_ENVELOPE);
    expect(await store.objectSize(objectKey(gw.projectId, sent.requestKey))).toBeUndefined();
    expect(await openMarkerOf(store, gw.projectId, sent.requestKey)).toBeUndefined();
    const late = await success(sent.requestKey);
    expectErrorEnvelope(late, 409, "UPLOAD_NOT_COMPLETED");
    expect(late.body.errors[0]).toMatch(/aborted/);

    // A URL cannot be revoked: a PUT after the abort (which removed the object) stores an object nobody is handed; an
    // abort sent again removes it.
    expect((await put(sent.url, sent.data)).status).toBe(200);
    expectErrorEnvelope(await success(sent.requestKey), 409, "UPLOAD_NOT_COMPLETED");
    expect((await abort(sent.requestKey)).body).toEqual(TRUE_ENVELOPE);
    expect(await store.objectSize(objectKey(gw.projectId, sent.requestKey))).toBeUndefined();

    // A completed single-PUT upload cannot be aborted.
    const done = await started();
    expect((await put(done.url, done.data)).status).toBe(200);
    expect((await success(done.requestKey)).status).toBe(200);
    expectErrorEnvelope(await abort(done.requestKey), 409, "UPLOAD_NOT_IN_PROGRESS");
  });

  it("success ∥ abort × 12: exactly one wins, and the final state follows it", async () => {
    const winners: string[] = [];
    const round = async (n: number) => {
      const upload = await started(randomBytes(32 * 1024));
      expect((await put(upload.url, upload.data)).status).toBe(200);
      const [confirmed, aborted] = await Promise.all([
        sleep(Math.random() * 3).then(() => success(upload.requestKey)),
        sleep((n % 4) * 2 + Math.random() * 3).then(() => abort(upload.requestKey)),
      ]);
      expect([confirmed.status, aborted.status].sort(), JSON.stringify([confirmed.body, aborted.body])).toEqual([
        200, 409,
      ]);
      const winner = confirmed.status === 200 ? "completed" : "aborted";
      winners.push(winner);
      if (winner === "completed") expectErrorEnvelope(aborted, 409, "UPLOAD_NOT_IN_PROGRESS");
      else expectErrorEnvelope(confirmed, 409, "UPLOAD_NOT_COMPLETED");
      expect((await status(upload.requestKey)).body.result.state).toBe(winner);
      const size = await store.objectSize(objectKey(gw.projectId, upload.requestKey));
      expect(size).toBe(winner === "completed" ? upload.data.length : undefined);
      expect(await openMarkerOf(store, gw.projectId, upload.requestKey)).toBeUndefined();
    };
    for (let batch = 0; batch < 3; batch++) await Promise.all([0, 1, 2, 3].map((i) => round(batch * 4 + i)));
    expect(winners).toHaveLength(12);
  }, 60_000);

  it("complete and resume refuse a single-PUT upload with 409 NOT_A_MULTIPART_UPLOAD", async () => {
    const upload = await started();
    const complete = await call(gw.app, "PUT", `${uploads()}/multipart-complete`, {
      body: { requestKey: upload.requestKey, parts: [{ partNumber: 1, eTag: "x" }] },
      headers: gw.auth,
    });
    expectErrorEnvelope(complete, 409, "NOT_A_MULTIPART_UPLOAD");
    const resume = await call(gw.app, "POST", `${uploads()}/multipart-resume`, {
      body: { requestKey: upload.requestKey },
      headers: gw.auth,
    });
    expectErrorEnvelope(resume, 409, "NOT_A_MULTIPART_UPLOAD");
    expect(fieldsOf(resume.body)).toEqual(["requestKey"]);
  });

  it.each([
    ["a lone surrogate", { fileName: "clip\ud800.mp4" }, "fileName"],
    ["a control character", { fileName: "clip\u0000.mp4" }, "fileName"],
    ["100 KB of name", { fileName: "x".repeat(100_000) }, "fileName"],
    ["a header in the MIME type", { mimeType: "video/mp4\r\nx-amz-acl: public-read" }, "mimeType"],
    ["more than 5 GiB", { contentLength: String(5 * GiB + 1) }, "contentLength"],
    ["a negative length", { contentLength: -1 }, "contentLength"],
    ["a length in exponent form", { contentLength: "1e3" }, "contentLength"],
  ])("refuses %s with 400 naming the field", async (_, change, field) => {
    const reply = await startSingle({ fileName: "clip.mp4", mimeType: "video/mp4", contentLength: "10", ...change });
    expectErrorEnvelope(reply, 400, "VALIDATION_FAILED");
    expect(fieldsOf(reply.body)).toEqual([field]);
  });

  it("keeps any well-formed name: the download is named by it", async () => {
    const name = 'фильм 🎬 "quoted" %20 ; x.mov';
    const upload = await started(randomBytes(1000), name);
    expect((await put(upload.url, upload.data)).status).toBe(200);
    expect((await status(upload.requestKey)).body.result.fileName).toBe(name);
    const { disposition } = await downloaded(upload.requestKey);
    expect(disposition).toContain(
      `filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`,
    );
  });

  it("applies the project's rules: MIME types and the largest file", async () => {
    const wrongType = await startSingle(
      { fileName: "a.txt", mimeType: "text/plain", contentLength: "10" },
      { projectId: gw.restrictedProjectId },
    );
    expectErrorEnvelope(wrongType, 415, "MIME_TYPE_NOT_ALLOWED");
    const tooLarge = await startSingle(
      { fileName: "a.mp4", mimeType: "video/mp4", contentLength: String(21 * 1024 * 1024) },
      { projectId: gw.restrictedProjectId },
    );
    expectErrorEnvelope(tooLarge, 413, "FILE_TOO_LARGE");
  });

  it("counts among the project's open uploads; success and abort give the place back", async () => {
    const body = { fileName: "a.mp4", mimeType: "video/mp4", contentLength: "4" };
    const open = [];
    for (let i = 0; i < 3; i++) {
      const reply = await startSingle(body, { projectId: gw.limitedProjectId });
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      open.push(reply.body.result as { url: string; requestKey: string });
    }
    expectErrorEnvelope(await startSingle(body, { projectId: gw.limitedProjectId }), 429, "TOO_MANY_OPEN_UPLOADS");
    const multipart = await call(gw.app, "POST", `${uploads(gw.limitedProjectId)}/multipart`, {
      body: { ...body, partsNumber: 1 },
      headers: gw.auth,
    });
    expectErrorEnvelope(multipart, 429, "TOO_MANY_OPEN_UPLOADS");
    expect((await put(open[0]!.url, Buffer.from("abcd"))).status).toBe(200);
    expect((await success(open[0]!.requestKey, gw.limitedProjectId)).status).toBe(200);
    const next = await startSingle(body, { projectId: gw.limitedProjectId });
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    for (const { requestKey } of [...open.slice(1), next.body.result]) {
      const aborted = await call(gw.app, "PUT", `${uploads(gw.limitedProjectId)}/multipart-abort`, {
        body: { requestKey },
        headers: gw.auth,
      });
      expect(aborted.body).toEqual(TRUE_ENVELOPE);
    }
  });

  it("Idempotency-Key: a retry answers the same upload with a fresh URL; another body or a multipart start with the key, 422", async () => {
    const key = randomUUID();
    const body = { fileName: "same.mp4", mimeType: "video/mp4", contentLength: "5" };
    const first = await startSingle(body, { idempotencyKey: key });
    const again = await startSingle({ ...body, contentLength: 5 }, { idempotencyKey: `"${key}"` });
    expect(first.status).toBe(200);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.result.requestKey).toBe(first.body.result.requestKey);
    // The retry's URL works as the first one does.
    expect((await put(again.body.result.url, Buffer.from("12345"))).status).toBe(200);

    expectErrorEnvelope(
      await startSingle({ ...body, fileName: "other.mp4" }, { idempotencyKey: key }),
      422,
      "IDEMPOTENCY_KEY_REUSED",
    );
    const multipart = await call(gw.app, "POST", `${uploads()}/multipart`, {
      body: { ...body, partsNumber: 1 },
      headers: { ...gw.auth, "idempotency-key": key },
    });
    expectErrorEnvelope(multipart, 422, "IDEMPOTENCY_KEY_REUSED");

    expect((await success(first.body.result.requestKey)).status).toBe(200);
    expectErrorEnvelope(await startSingle(body, { idempotencyKey: key }), 409, "UPLOAD_NOT_IN_PROGRESS");
  });

  it("needs the project's key, like every upload route", async () => {
    const body = { fileName: "a.mp4", mimeType: "video/mp4", contentLength: "4" };
    const none = await call(gw.app, "POST", `${uploads()}/url`, { body });
    expectErrorEnvelope(none, 401, "UNAUTHORIZED");
    const foreign = await call(gw.app, "POST", `${uploads(gw.foreignProjectId)}/url`, { body, headers: gw.auth });
    expectErrorEnvelope(foreign, 403, "FORBIDDEN");
  });
});
