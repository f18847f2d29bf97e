import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { objectKey } from "../src/uploads/upload-keys";
import { startGateway, type TestGateway } from "./support/gateway";
import { call, fieldsOf } from "./support/http";

/** The whole multipart flow against a real S3 (Ceph RGW): clients PUT the bytes straight to presigned URLs. */

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

let gw: TestGateway;
const uploads = () => `/api/projects/${gw.projectId}/uploads`;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw?.close();
});

/** A file of 5 MiB + 5 MiB + 1 KiB, the three parts of the seed example. */
function seedFile() {
  const data = randomBytes(10 * MiB + 1024);
  const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
  return { data, parts };
}

async function startUpload(body: Record<string, unknown> = {}) {
  const reply = await call(gw.app, "POST", `${uploads()}/multipart`, {
    body: {
      partsNumber: 3,
      fileName: "clip.mp4",
      contentLength: String(10 * MiB + 1024),
      mimeType: "video/mp4",
      ...body,
    },
    headers: gw.auth,
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.result as {
    uploadId: string;
    requestKey: string;
    presignedUrl: { partNumber: number; presignedUrl: string }[];
  };
}

async function putPart(url: string, bytes: Uint8Array): Promise<string> {
  const response = await fetch(url, { method: "PUT", body: bytes });
  expect(response.status, await response.clone().text()).toBe(200);
  const eTag = response.headers.get("etag");
  expect(eTag).toMatch(/^"[0-9a-f]{32}"$/);
  return eTag!;
}

const complete = (requestKey: string, parts: { partNumber: number; eTag: string }[]) =>
  call(gw.app, "PUT", `${uploads()}/multipart-complete`, { body: { requestKey, parts }, headers: gw.auth });
const resume = (requestKey: string) =>
  call(gw.app, "POST", `${uploads()}/multipart-resume`, { body: { requestKey }, headers: gw.auth });
const abort = (requestKey: string) =>
  call(gw.app, "PUT", `${uploads()}/multipart-abort`, { body: { requestKey }, headers: gw.auth });
const details = (requestKey: string) => call(gw.app, "GET", `${uploads()}/${requestKey}`, { headers: gw.auth });

describe("multipart upload on Ceph RGW", () => {
  it("uploads three parts, completes, and downloads the identical file", async () => {
    const { data, parts } = seedFile();
    const started = await startUpload({ fileName: "Clip – été.mp4" });
    const eTags = await Promise.all(started.presignedUrl.map((p, i) => putPart(p.presignedUrl, parts[i]!)));

    const done = await complete(
      started.requestKey,
      eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })),
    );
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toEqual({
      success: true,
      errors: [],
      messages: [],
      result: true,
      resultInfo: null,
      statusCode: 200,
    });

    const state = await details(started.requestKey);
    expect(state.body.result).toMatchObject({ state: "completed", completedAt: expect.any(String), uploadedParts: [] });

    const link = await call(gw.app, "POST", `${uploads()}/success/${started.requestKey}`, { headers: gw.auth });
    expect(link.status).toBe(200);
    const download = await fetch(link.body.result.downloadPath);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("video/mp4");
    expect(download.headers.get("content-disposition")).toContain(
      "filename*=UTF-8''Clip%20%E2%80%93%20%C3%A9t%C3%A9.mp4",
    );
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(data));

    // A retried complete (its first reply lost) succeeds again without harm; another list of parts is refused.
    const again = await complete(
      started.requestKey,
      eTags.map((eTag, i) => ({ partNumber: i + 1, eTag: eTag.replaceAll('"', "") })),
    );
    expect(again.body).toEqual(done.body);
    const other = await complete(started.requestKey, [
      { partNumber: 1, eTag: eTags[0]! },
      { partNumber: 2, eTag: eTags[0]! },
      { partNumber: 3, eTag: eTags[2]! },
    ]);
    expect(other.status).toBe(409);
    expect(other.body.errorDetails).toEqual([
      expect.objectContaining({ code: "UPLOAD_NOT_IN_PROGRESS", field: "requestKey" }),
    ]);
  });

  it("resumes: lists the stored part and re-signs only the others", async () => {
    const { data, parts } = seedFile();
    const started = await startUpload();
    const first = await putPart(started.presignedUrl[0]!.presignedUrl, parts[0]!);

    const resumed = await resume(started.requestKey);
    expect(resumed.status).toBe(200);
    expect(resumed.body.result).toMatchObject({
      uploadId: started.uploadId,
      requestKey: started.requestKey,
      partsNumber: 3,
    });
    expect(resumed.body.result.uploadedParts).toEqual([{ partNumber: 1, eTag: first, size: 5 * MiB }]);
    expect(resumed.body.result.presignedUrl.map((p: { partNumber: number }) => p.partNumber)).toEqual([2, 3]);

    const state = await details(started.requestKey);
    expect(state.body.result.uploadedParts).toEqual([{ partNumber: 1, eTag: first, size: 5 * MiB }]);

    const rest = await Promise.all(
      resumed.body.result.presignedUrl.map((p: { partNumber: number; presignedUrl: string }) =>
        putPart(p.presignedUrl, parts[p.partNumber - 1]!),
      ),
    );
    const done = await complete(started.requestKey, [
      { partNumber: 1, eTag: first },
      { partNumber: 2, eTag: rest[0]! },
      { partNumber: 3, eTag: rest[1]! },
    ]);
    expect(done.status).toBe(200);
    const link = await call(gw.app, "POST", `${uploads()}/success/${started.requestKey}`, { headers: gw.auth });
    const download = await fetch(link.body.result.downloadPath);
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(data));
  });

  it("refuses a wrong eTag naming the part, and loses nothing", async () => {
    const { parts } = seedFile();
    const started = await startUpload();
    const eTags = await Promise.all(started.presignedUrl.map((p, i) => putPart(p.presignedUrl, parts[i]!)));
    const wrong = await complete(started.requestKey, [
      { partNumber: 1, eTag: eTags[0]! },
      { partNumber: 2, eTag: '"00000000000000000000000000000000"' },
      { partNumber: 3, eTag: eTags[2]! },
    ]);
    expect(wrong.status).toBe(400);
    expect(wrong.body.errorDetails).toEqual([expect.objectContaining({ code: "INVALID_PART", field: "parts.1.eTag" })]);

    const resumed = await resume(started.requestKey);
    expect(resumed.body.result.uploadedParts).toHaveLength(3);
    expect(resumed.body.result.presignedUrl).toEqual([]);
    const done = await complete(
      started.requestKey,
      // Listed out of order and without quotes: the gateway sorts and normalizes.
      [2, 0, 1].map((i) => ({ partNumber: i + 1, eTag: eTags[i]!.replaceAll('"', "") })),
    );
    expect(done.status, JSON.stringify(done.body)).toBe(200);
  });

  it("refuses to complete with parts missing or of the wrong size, and re-signs a wrong-sized part", async () => {
    const { parts } = seedFile();
    const started = await startUpload();
    // A part URL stores exactly its planned size: RGW refuses 1 KiB where 5 MiB belongs.
    const refused = await fetch(started.presignedUrl[0]!.presignedUrl, { method: "PUT", body: parts[2]! });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("SignatureDoesNotMatch");
    // Stored some other way (a URL signed for another size), the wrong-sized part still cannot complete.
    const storage = gw.app.get<Storage>(STORAGE);
    const key = objectKey(gw.projectId, started.requestKey);
    const [otherUrl] = await storage.presignUploadParts(
      key,
      started.uploadId,
      [{ partNumber: 1, size: parts[2]!.length }],
      60,
    );
    const small = await putPart(otherUrl!, parts[2]!);
    const second = await putPart(started.presignedUrl[1]!.presignedUrl, parts[1]!);

    const missing = await complete(started.requestKey, [
      { partNumber: 1, eTag: small },
      { partNumber: 2, eTag: second },
    ]);
    expect(missing.status).toBe(400);
    expect(fieldsOf(missing.body)).toEqual(["parts"]);
    expect(missing.body.errors[0]).toContain("missing 3");

    const third = await putPart(started.presignedUrl[2]!.presignedUrl, parts[2]!);
    const wrongSize = await complete(started.requestKey, [
      { partNumber: 1, eTag: small },
      { partNumber: 2, eTag: second },
      { partNumber: 3, eTag: third },
    ]);
    expect(wrongSize.status).toBe(400);
    expect(wrongSize.body.errorDetails).toEqual([
      expect.objectContaining({ code: "PART_SIZE_MISMATCH", field: "parts.0" }),
    ]);

    const resumed = await resume(started.requestKey);
    expect(resumed.body.result.presignedUrl.map((p: { partNumber: number }) => p.partNumber)).toEqual([1]);
  });

  it("after abort, complete and resume answer 4xx and the state says aborted", async () => {
    const { parts } = seedFile();
    const started = await startUpload();
    const eTag = await putPart(started.presignedUrl[2]!.presignedUrl, parts[2]!);
    expect((await abort(started.requestKey)).body.result).toBe(true);
    expect((await abort(started.requestKey)).status).toBe(200); // idempotent

    const late = await complete(started.requestKey, [{ partNumber: 3, eTag }]);
    expect(late.status).toBe(409);
    expect(late.body.errorDetails[0].code).toBe("UPLOAD_NOT_IN_PROGRESS");
    expect((await resume(started.requestKey)).status).toBe(409);
    const link = await call(gw.app, "POST", `${uploads()}/success/${started.requestKey}`, { headers: gw.auth });
    expect(link.status).toBe(409);
    expect(link.body.errorDetails[0].code).toBe("UPLOAD_NOT_COMPLETED");
    expect((await details(started.requestKey)).body.result).toMatchObject({
      state: "aborted",
      abortedAt: expect.any(String),
    });

    // The part URLs no longer work: RGW has discarded the upload.
    const put = await fetch(started.presignedUrl[0]!.presignedUrl, { method: "PUT", body: parts[0]! });
    expect(put.status).toBe(404);
  });

  it("RGW refuses a tampered part URL with 403", async () => {
    const started = await startUpload();
    const url = new URL(started.presignedUrl[0]!.presignedUrl);
    url.searchParams.set("partNumber", "2"); // a URL signs exactly one part
    expect((await fetch(url, { method: "PUT", body: "x" })).status).toBe(403);
    const signature = new URL(started.presignedUrl[0]!.presignedUrl);
    const sig = signature.searchParams.get("X-Amz-Signature")!;
    signature.searchParams.set("X-Amz-Signature", sig.replace(/^./, sig[0] === "a" ? "b" : "a"));
    expect((await fetch(signature, { method: "PUT", body: "x" })).status).toBe(403);
  });
});

describe("duplicate check", () => {
  const hash = () => `sha256:${randomBytes(32).toString("hex")}`;

  it("refuses a second upload of the same hash in the project with 409, until the first is aborted", async () => {
    const fileHash = hash();
    const first = await startUpload({ enableDuplicateCheck: true, fileHash });
    const second = await call(gw.app, "POST", `${uploads()}/multipart`, {
      body: {
        partsNumber: 1,
        fileName: "again.mp4",
        contentLength: "10",
        mimeType: "video/mp4",
        enableDuplicateCheck: true,
        fileHash,
      },
      headers: gw.auth,
    });
    expect(second.status).toBe(409);
    expect(second.body.errorDetails).toEqual([expect.objectContaining({ code: "DUPLICATE_FILE", field: "fileHash" })]);
    expect(second.body.errors[0]).toContain(first.requestKey);

    // Uploads without the check are not affected.
    await startUpload({ fileHash });

    await abort(first.requestKey);
    await startUpload({ enableDuplicateCheck: true, fileHash });
  });

  it("lets exactly one of several simultaneous starts of the same hash through", async () => {
    const fileHash = hash();
    const replies = await Promise.all(
      Array.from({ length: 6 }, () =>
        call(gw.app, "POST", `${uploads()}/multipart`, {
          body: {
            partsNumber: 1,
            fileName: "race.mp4",
            contentLength: "10",
            mimeType: "video/mp4",
            enableDuplicateCheck: true,
            fileHash,
          },
          headers: gw.auth,
        }),
      ),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
  });
});
