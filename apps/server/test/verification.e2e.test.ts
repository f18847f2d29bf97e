import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayMetrics } from "../src/observability/metrics";
import { SINGLE_PUT_HEADERS } from "../src/storage/sigv4-presigner";
import type { Storage } from "../src/storage/storage.port";
import { METRICS, STORAGE } from "../src/tokens";
import { startGateway, type TestGateway } from "./support/gateway";
import { EICAR, startClamd, type Clamd } from "./support/clamd";
import { call, expectErrorEnvelope } from "./support/http";
import { makeMediaFixtures } from "./support/media-fixtures";

/**
 * The content check over HTTP on both stores (issue 20): real video passes with its facts; hostile files declared
 * video/mp4 get a clear 422 CONTENT_REJECTED at complete or success, never a 5xx, and nothing stays downloadable;
 * downloads of markup are never served as markup. The workflow's races, replicas and outages: content-check/*.test.ts.
 */

let dir: string;
const fixture = (name: string) => new Uint8Array(readFileSync(join(dir, name)));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "verify-e2e-"));
  makeMediaFixtures(dir);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Uploads `data` in one part as `mimeType` and completes it: the complete's reply and the request key. */
async function uploadWhole(
  gw: TestGateway,
  projectId: string,
  data: Uint8Array,
  mimeType = "video/mp4",
  fileName = "clip.mp4",
) {
  const uploads = `/api/projects/${projectId}/uploads`;
  const started = await call(gw.app, "POST", `${uploads}/multipart`, {
    body: { partsNumber: 1, fileName, contentLength: String(data.length), mimeType },
    headers: gw.auth,
  });
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  const { requestKey, presignedUrl } = started.body.result as {
    requestKey: string;
    presignedUrl: { presignedUrl: string }[];
  };
  const put = await fetch(presignedUrl[0]!.presignedUrl, { method: "PUT", body: data });
  expect(put.status).toBe(200);
  const parts = [{ partNumber: 1, eTag: put.headers.get("etag")! }];
  const completed = await call(gw.app, "PUT", `${uploads}/multipart-complete`, {
    body: { requestKey, parts },
    headers: gw.auth,
  });
  return { requestKey, completed };
}

describe("ClamAV (CLAMD_URL) joins the content check", () => {
  let clamd: Clamd;
  let gw: TestGateway;
  beforeAll(async () => {
    clamd = await startClamd();
    gw = await startGateway({ CLAMD_URL: `tcp://${clamd.host}:${clamd.port}` }, "local");
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    await clamd?.stop();
  });

  it("rejects the EICAR test file with MALWARE_FOUND, counted by code; passes a clean file", async () => {
    const infected = await uploadWhole(gw, gw.projectId, EICAR, "text/plain", "eicar.txt");
    expectErrorEnvelope(infected.completed, 422, "CONTENT_REJECTED");
    expect(infected.completed.body.errors[0]).toContain("MALWARE_FOUND: clamav found Gateway-Test-EICAR");
    const rejected = await gw.app.get<GatewayMetrics>(METRICS).uploadsRejected.get();
    expect(rejected.values.find((v) => v.labels.project === gw.projectId)?.labels.code).toBe("MALWARE_FOUND");
    const clean = await uploadWhole(gw, gw.projectId, new TextEncoder().encode("hello\n"), "text/plain", "a.txt");
    expect(clean.completed.status, JSON.stringify(clean.completed.body)).toBe(200);
  });
});

describe.each(["local", "s3"] as const)("content check on %s storage", (storage) => {
  let gw: TestGateway;
  let store: Storage;
  const uploads = (projectId: string) => `/api/projects/${projectId}/uploads`;

  beforeAll(async () => {
    gw = await startGateway({}, storage);
    store = gw.app.get<Storage>(STORAGE);
  });
  afterAll(async () => {
    await gw?.close();
  });

  const upload = (projectId: string, data: Uint8Array, mimeType?: string, fileName?: string) =>
    uploadWhole(gw, projectId, data, mimeType, fileName);

  const success = (projectId: string, requestKey: string) =>
    call(gw.app, "POST", `${uploads(projectId)}/success/${requestKey}`, { headers: gw.auth });
  const status = (projectId: string, requestKey: string) =>
    call(gw.app, "GET", `${uploads(projectId)}/${requestKey}`, { headers: gw.auth });

  it("a real MP4 in a video/* project: passed, with its facts on GET and success; the bytes download", async () => {
    const data = fixture("mp4-index-at-end.mp4");
    const { requestKey, completed } = await upload(gw.restrictedProjectId, data);
    expect(completed.body).toMatchObject({ success: true, result: true });
    const got = await status(gw.restrictedProjectId, requestKey);
    expect(got.body.result).toMatchObject({
      state: "completed",
      verification: {
        state: "passed",
        detectedMimeType: "video/mp4",
        media: { container: "mp4", width: 160, height: 120, videoCodec: "h264", audioCodec: "aac" },
      },
    });
    const link = await success(gw.restrictedProjectId, requestKey);
    expect(link.status, JSON.stringify(link.body)).toBe(200);
    expect(link.body.result.verification).toEqual(got.body.result.verification);
    const download = await fetch(link.body.result.downloadPath);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(data);
    const metrics = gw.app.get<GatewayMetrics>(METRICS);
    const verified = await metrics.uploadsVerified.get();
    expect(verified.values.find((v) => v.labels.project === gw.restrictedProjectId)?.value).toBeGreaterThanOrEqual(1);
  });

  it.each([
    "page.html",
    "script.svg",
    "program.elf",
    "archive.zip",
    "polyglot-markup.mp4",
    "polyglot-zip.mp4",
    "ten-hours.mp4",
    "truncated.mp4",
  ])("%s declared video/mp4: 422 CONTENT_REJECTED at complete and success, rejected, its object gone", async (name) => {
    const { requestKey, completed } = await upload(gw.restrictedProjectId, fixture(name));
    expectErrorEnvelope(completed, 422, "CONTENT_REJECTED");
    expect(completed.body.errors[0]).toContain("declared video/mp4, found ");
    const got = await status(gw.restrictedProjectId, requestKey);
    expect(got.body.result).toMatchObject({ state: "rejected", verification: { state: "failed" } });
    expectErrorEnvelope(await success(gw.restrictedProjectId, requestKey), 422, "CONTENT_REJECTED");
    const objectKey = `projects/${gw.restrictedProjectId}/files/${requestKey}`;
    expect(await store.objectSize(objectKey)).toBeUndefined();
  });

  it("a single PUT of an HTML page declared video/mp4 is rejected at success", async () => {
    const data = fixture("page.html");
    const started = await call(gw.app, "POST", `${uploads(gw.restrictedProjectId)}/url`, {
      body: { fileName: "clip.mp4", mimeType: "video/mp4", contentLength: String(data.length) },
      headers: gw.auth,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const { url, requestKey } = started.body.result as { url: string; requestKey: string };
    const headers = storage === "s3" ? { ...SINGLE_PUT_HEADERS } : {};
    expect((await fetch(url, { method: "PUT", body: data, headers })).status).toBe(200);
    const refused = await success(gw.restrictedProjectId, requestKey);
    expectErrorEnvelope(refused, 422, "CONTENT_REJECTED");
    expect(refused.body.errors[0]).toContain("TYPE_MISMATCH: declared video/mp4, found an HTML page (text/html)");
  });

  it("an HTML page in a project without type rules passes, but downloads as bytes, an attachment", async () => {
    const { requestKey, completed } = await upload(gw.projectId, fixture("page.html"), "text/html", "page.html");
    expect(completed.status, JSON.stringify(completed.body)).toBe(200);
    const link = await success(gw.projectId, requestKey);
    expect(link.body.result.verification).toEqual({ state: "passed", detectedMimeType: "text/html" });
    const download = await fetch(link.body.result.downloadPath);
    expect(download.headers.get("content-type")).toBe("application/octet-stream");
    expect(download.headers.get("content-disposition")).toMatch(/^attachment; /);
    if (storage === "local") expect(download.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
