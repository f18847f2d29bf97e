import { randomBytes, randomUUID } from "node:crypto";
import { ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { idempotencyEntryKey } from "../src/uploads/upload-keys";
import { s3Env, startGateway, type TestGateway } from "./support/gateway";
import { call, fieldsOf } from "./support/http";

/**
 * `Idempotency-Key` on the start, on both stores (same test names): a retried start gets the same upload, never a
 * second multipart upload in the store.
 */

const MiB = 1024 * 1024;
const body = { partsNumber: 3, fileName: "clip.mp4", contentLength: String(10 * MiB + 1024), mimeType: "video/mp4" };

describe.each(["local", "s3"] as const)("idempotent start on %s storage", (storage) => {
  let gw: TestGateway;
  const uploads = (projectId = gw.projectId) => `/api/projects/${projectId}/uploads`;
  const start = (key: string | undefined, payload: unknown = body, projectId?: string) =>
    call(gw.app, "POST", `${uploads(projectId)}/multipart`, {
      body: payload,
      headers: { ...gw.auth, ...(key === undefined ? {} : { "idempotency-key": key }) },
    });

  /**
   * How many uploads the project has, which a lost reply must not multiply: their records, and on S3 the open
   * multipart uploads themselves (what S3 bills for). The embedded store makes no multipart upload without a record.
   */
  async function storedUploads(projectId = gw.projectId): Promise<{ records: number; openOnS3: number }> {
    const list = await call(gw.app, "GET", `${uploads(projectId)}?limit=100`, { headers: gw.auth });
    const records = (list.body.result.uploads as unknown[]).length;
    if (storage === "local") return { records, openOnS3: 0 };
    const env = s3Env();
    const s3 = new S3Client({ region: env.S3_REGION ?? "us-east-1", endpoint: env.S3_ENDPOINT, forcePathStyle: true });
    try {
      const prefix = `projects/${projectId}/files/`;
      const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: env.S3_BUCKET, Prefix: prefix }));
      return { records, openOnS3: (out.Uploads ?? []).length };
    } finally {
      s3.destroy();
    }
  }
  const oneMore = (before: { records: number; openOnS3: number }) => ({
    records: before.records + 1,
    openOnS3: before.openOnS3 + (storage === "s3" ? 1 : 0),
  });

  beforeAll(async () => {
    gw = await startGateway({}, storage);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("the same key and body again: the same upload, fresh URLs for every part, one upload in the store", async () => {
    const before = await storedUploads();
    const key = randomUUID();
    const first = await start(`"${key}"`); // the draft's form: a structured-field String
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    // The retry sends the key bare and contentLength as a number: the same key, the same request.
    const again = await start(key, { ...body, contentLength: 10 * MiB + 1024 });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.result).toMatchObject({
      requestKey: first.body.result.requestKey,
      uploadId: first.body.result.uploadId,
      partSize: 5 * MiB,
      partsNumber: 3,
      contentLength: body.contentLength,
    });
    expect(again.body.result.presignedUrl.map((p: { partNumber: number }) => p.partNumber)).toEqual([1, 2, 3]);
    expect(await storedUploads()).toEqual(oneMore(before));

    // The replayed URLs store the parts and the upload completes.
    const data = randomBytes(10 * MiB + 1024);
    const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
    const eTags = await Promise.all(
      again.body.result.presignedUrl.map(async (p: { partNumber: number; presignedUrl: string }) => {
        const response = await fetch(p.presignedUrl, { method: "PUT", body: parts[p.partNumber - 1]! });
        expect(response.status).toBe(200);
        return response.headers.get("etag")!;
      }),
    );
    const requestKey = first.body.result.requestKey;
    const done = await call(gw.app, "PUT", `${uploads()}/multipart-complete`, {
      body: { requestKey, parts: eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })) },
      headers: gw.auth,
    });
    expect(done.status, JSON.stringify(done.body)).toBe(200);

    // A replay after the upload completed cannot hand out URLs for it: 409, naming the upload.
    const late = await start(key);
    expect(late.status).toBe(409);
    expect(late.body.errorDetails[0]).toMatchObject({
      code: "UPLOAD_NOT_IN_PROGRESS",
      field: "headers.idempotency-key",
    });
    expect(late.body.errors[0]).toContain(requestKey);
  });

  it("the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, and the first upload is untouched", async () => {
    const key = randomUUID();
    const first = await start(key);
    expect(first.status).toBe(200);
    const other = await start(key, { ...body, fileName: "other.mp4" });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ success: false, statusCode: 422, result: null });
    expect(other.body.errorDetails).toEqual([
      expect.objectContaining({ code: "IDEMPOTENCY_KEY_REUSED", field: "headers.idempotency-key", retryable: false }),
    ]);
    expect((await start(key, { ...body, presignedUrlExpiryTimeHours: 2 })).status).toBe(422);
    expect((await start(key, { ...body, metadata: { title: "x" } })).status).toBe(422);
    const state = await call(gw.app, "GET", `${uploads()}/${first.body.result.requestKey}`, { headers: gw.auth });
    expect(state.body.result.state).toBe("uploading");
    // Without a key, starts are not deduplicated.
    const [a, b] = await Promise.all([start(undefined), start(undefined)]);
    expect(a.body.result.requestKey).not.toBe(b.body.result.requestKey);
  });

  it("metadata in another key order is the same body; an empty map is no metadata", async () => {
    const key = randomUUID();
    const first = await start(key, { ...body, metadata: { a: "1", b: "2" } });
    expect(first.status).toBe(200);
    const again = await start(key, { ...body, metadata: { b: "2", a: "1" } });
    expect(again.body.result.requestKey).toBe(first.body.result.requestKey);
    expect((await start(key, { ...body, metadata: { a: "1", b: "3" } })).status).toBe(422);
    const bare = randomUUID();
    const plain = await start(bare);
    expect((await start(bare, { ...body, metadata: {} })).body.result.requestKey).toBe(plain.body.result.requestKey);
  });

  it("concurrent starts with one key make one upload, and all of them answer it", async () => {
    const before = await storedUploads();
    const key = randomUUID();
    const replies = await Promise.all(Array.from({ length: 8 }, () => start(key)));
    expect(replies.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(replies.map((r) => r.body.result.requestKey)).size).toBe(1);
    expect(new Set(replies.map((r) => r.body.result.uploadId)).size).toBe(1);
    expect(await storedUploads()).toEqual(oneMore(before));
  });

  it("a key last used more than 24 h ago starts a new upload", async () => {
    const key = randomUUID();
    const first = await start(key);
    expect(first.status).toBe(200);
    const store = gw.app.get<Storage>(STORAGE);
    const entryKey = idempotencyEntryKey(gw.projectId, key);
    const entry = (await store.readJson(entryKey)) as { createdAt: string };
    expect(entry.createdAt).toEqual(expect.any(String));
    const dayAgo = new Date(Date.now() - 24 * 3600 * 1000 - 60_000).toISOString();
    await store.writeJson(entryKey, { ...entry, createdAt: dayAgo });

    // Another body is no reuse any more: the key is free again, and then bound to the new upload.
    const later = await start(key, { ...body, fileName: "later.mp4" });
    expect(later.status, JSON.stringify(later.body)).toBe(200);
    expect(later.body.result.requestKey).not.toBe(first.body.result.requestKey);
    expect((await start(key, { ...body, fileName: "later.mp4" })).body.result.requestKey).toBe(
      later.body.result.requestKey,
    );
    expect((await start(key)).status).toBe(422);
  });

  it("keys are per project", async () => {
    const key = randomUUID();
    const here = await start(key);
    const there = await start(key, body, gw.restrictedProjectId);
    expect([here.status, there.status]).toEqual([200, 200]);
    expect(there.body.result.requestKey).not.toBe(here.body.result.requestKey);
  });

  it("a start that failed frees its key: the retry starts afresh", async () => {
    const fileHash = `sha256:${randomBytes(32).toString("hex")}`;
    const withHash = { ...body, enableDuplicateCheck: true, fileHash };
    const holder = await start(undefined, withHash);
    expect(holder.status).toBe(200);
    const key = randomUUID();
    const refused = await start(key, withHash);
    expect(refused.status).toBe(409);
    expect(refused.body.errorDetails[0].code).toBe("DUPLICATE_FILE");
    const abort = await call(gw.app, "PUT", `${uploads()}/multipart-abort`, {
      body: { requestKey: holder.body.result.requestKey },
      headers: gw.auth,
    });
    expect(abort.status).toBe(200);
    const retried = await start(key, withHash);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect((await start(key, withHash)).body.result.requestKey).toBe(retried.body.result.requestKey);
  });

  it.each([
    ["empty", ""],
    ["over 255 characters", "k".repeat(256)],
    ["two keys", '"a", "b"'],
    ["a space", "my key"],
    ["a control character", "a\u0001b"],
  ])("refuses a key that is %s with 400 naming headers.idempotency-key", async (_, key) => {
    const reply = await start(key);
    expect(reply.status).toBe(400);
    expect(fieldsOf(reply.body)).toEqual(["headers.idempotency-key"]);
    expect(reply.body.errorDetails[0].code).toBe("VALIDATION_FAILED");
  });
});
