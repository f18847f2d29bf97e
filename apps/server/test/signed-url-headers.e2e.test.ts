import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { objectKey } from "../src/uploads/upload-keys";
import { s3Env, startGateway, type TestGateway } from "./support/gateway";
import { call, expectErrorEnvelope } from "./support/http";

/**
 * Attack probes on signed URLs (issue 23.2), on the real S3 (Ceph RGW), which stores what a presigned PUT's unsigned
 * headers ask for: a client adding headers to its PUT can neither make the object readable without a signed URL
 * (an anonymous GET answers 403 at every moment) nor set what the gateway's downloads answer with. And the seed
 * family's plain PUT (issue 24.8): the body alone stores on the embedded store, once.
 */

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const PUBLIC_READ = { "x-amz-acl": "public-read" };
const GRANT_EVERYONE = { "x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' };
/** Headers a client could add to be echoed by downloads: metadata, caching, encoding, a repeated signed entry. */
const ECHOED = {
  "x-amz-meta-injected": "1",
  "x-amz-meta-file-name": "evil.html",
  "cache-control": "public, max-age=31536000",
  "content-language": "xx",
  "content-type": "text/html",
};

describe("signed URLs on S3: added headers", () => {
  let gw: TestGateway;
  let store: Storage;
  const uploads = () => `/api/projects/${gw.projectId}/uploads`;
  const success = (requestKey: string) =>
    call(gw.app, "POST", `${uploads()}/success/${requestKey}`, { headers: gw.auth });
  /** What anyone gets for the upload's object without a signature: the store's answer to an unsigned GET. */
  const anonymousGet = async (requestKey: string) => {
    const { S3_ENDPOINT, S3_BUCKET } = s3Env();
    const path = objectKey(gw.projectId, requestKey).split("/").map(encodeURIComponent).join("/");
    const response = await fetch(`${S3_ENDPOINT}/${S3_BUCKET}/${path}`);
    await response.arrayBuffer();
    return response.status;
  };
  const startSingle = async (data: Uint8Array) => {
    const reply = await call(gw.app, "POST", `${uploads()}/url`, {
      headers: gw.auth,
      body: { fileName: "clip.mp4", mimeType: "video/mp4", contentLength: data.length },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    return reply.body.result as { url: string; headers: Record<string, string>; requestKey: string };
  };
  const putTo = async (url: string, data: Uint8Array, headers: Record<string, string>) => {
    const response = await fetch(url, { method: "PUT", body: data, headers });
    await response.arrayBuffer();
    return response.status;
  };
  const download = async (requestKey: string) => {
    const link = await success(requestKey);
    expect(link.status, JSON.stringify(link.body)).toBe(200);
    const response = await fetch(link.body.result.downloadPath);
    expect(response.status).toBe(200);
    return { headers: response.headers, bytes: new Uint8Array(await response.arrayBuffer()) };
  };

  beforeAll(async () => {
    gw = await startGateway({}, "s3");
    store = gw.app.get<Storage>(STORAGE);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("a single PUT adding x-amz-acl or x-amz-grant-read is refused; the object is never readable unsigned", async () => {
    // Bytes of no known type: a page declared as video/mp4 never gets a download (the content check refuses it).
    const data = randomBytes(1000);
    const upload = await startSingle(data);
    expect(await anonymousGet(upload.requestKey)).toBe(403);
    // The canned ACL is signed: another value does not match the signature, and a grant cannot go with a canned ACL.
    expect(await putTo(upload.url, data, { ...upload.headers, ...PUBLIC_READ })).toBe(403);
    expect(await putTo(upload.url, data, { ...upload.headers, ...GRANT_EVERYONE })).toBeGreaterThanOrEqual(400);
    expect(await anonymousGet(upload.requestKey)).toBe(403);
    expect(await store.objectSize(objectKey(gw.projectId, upload.requestKey))).toBeUndefined();
    expect(await putTo(upload.url, data, upload.headers)).toBe(200);
    expect(await anonymousGet(upload.requestKey)).toBe(403);
    expect(sha256((await download(upload.requestKey)).bytes)).toBe(sha256(data));
    expect(await anonymousGet(upload.requestKey)).toBe(403);
  });

  it("a part PUT adding x-amz-acl or x-amz-grant-read leaves the object private, before and after complete", async () => {
    const data = randomBytes(1000);
    const started = await call(gw.app, "POST", `${uploads()}/multipart`, {
      headers: gw.auth,
      body: { fileName: "a.html", mimeType: "text/html", contentLength: data.length, partsNumber: 1 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const { requestKey, presignedUrl } = started.body.result;
    const url = presignedUrl[0].presignedUrl as string;
    // Ceph RGW takes these parts and ignores the headers (the object's ACL and headers are those of the multipart
    // start); AWS refuses unsigned x-amz-* headers (403).
    expect([200, 403]).toContain(await putTo(url, data, GRANT_EVERYONE));
    expect(await anonymousGet(requestKey)).toBe(403);
    const part = await fetch(url, { method: "PUT", body: data, headers: { ...PUBLIC_READ, ...ECHOED } });
    await part.arrayBuffer();
    expect([200, 403]).toContain(part.status);
    expect(await anonymousGet(requestKey)).toBe(403);
    if (part.status !== 200) return; // nothing stored by these headers: nothing more to check
    const completed = await call(gw.app, "PUT", `${uploads()}/multipart-complete`, {
      headers: gw.auth,
      body: { requestKey, parts: [{ partNumber: 1, eTag: part.headers.get("etag") }] },
    });
    expect(completed.status, JSON.stringify(completed.body)).toBe(200);
    expect(await anonymousGet(requestKey)).toBe(403);
    const { headers } = await download(requestKey);
    expect([...headers.keys()].filter((name) => name === "x-amz-meta-injected" || name === "content-language")).toEqual(
      [],
    );
    expect(headers.get("x-amz-meta-file-name")).toBe("a.html");
    expect(headers.get("cache-control")).toBe("private");
    expect(await anonymousGet(requestKey)).toBe(403);
  });

  it("a single PUT adding metadata or headers downloads would echo is not completed: the object is removed, PUT again", async () => {
    const data = randomBytes(2000);
    const upload = await startSingle(data);
    expect(await putTo(upload.url, data, { ...upload.headers, ...ECHOED })).toBe(200);
    const refused = await success(upload.requestKey);
    expectErrorEnvelope(refused, 409, "UPLOAD_NOT_COMPLETED");
    expect(refused.body.errors[0]).toMatch(/content-language.*x-amz-meta-file-name.*x-amz-meta-injected/);
    expect(await store.objectSize(objectKey(gw.projectId, upload.requestKey))).toBeUndefined();
    expect(
      (await call(gw.app, "GET", `${uploads()}/${upload.requestKey}`, { headers: gw.auth })).body.result.state,
    ).toBe("uploading");

    // Sent again with the answer's headers (and a Cache-Control and a type, which downloads do not echo): completed.
    const sentAgain = { ...upload.headers, "cache-control": "public, max-age=31536000", "content-type": "text/html" };
    expect(await putTo(upload.url, data, sentAgain)).toBe(200);
    const { headers, bytes } = await download(upload.requestKey);
    expect(sha256(bytes)).toBe(sha256(data));
    expect(headers.get("content-type")).toBe("video/mp4");
    expect(headers.get("cache-control")).toBe("private");
    expect(headers.get("content-disposition")).toContain("clip.mp4");
    expect(Object.fromEntries([...headers].filter(([name]) => name.startsWith("x-amz-meta-")))).toEqual({
      "x-amz-meta-file-name": "clip.mp4",
      "x-amz-meta-request-key": upload.requestKey,
    });
  });

  it("the answer's headers are necessary and sufficient: without any one of them the PUT is refused", async () => {
    const data = randomBytes(100);
    const upload = await startSingle(data);
    expect(Object.keys(upload.headers).sort()).toEqual(["if-none-match", "x-amz-acl"]);
    for (const name of Object.keys(upload.headers)) {
      const { [name]: _left, ...others } = upload.headers;
      expect(await putTo(upload.url, data, others), name).toBe(403);
    }
    expect(await putTo(upload.url, data, {})).toBe(403);
    expect(await putTo(upload.url, data, upload.headers)).toBe(200);
    expect(await putTo(upload.url, data, upload.headers)).toBe(412);
    expect(sha256((await download(upload.requestKey)).bytes)).toBe(sha256(data));
  });
});

describe("signed URLs on S3 with S3_SINGLE_PUT_ACL=private (Cloudflare R2 takes no other)", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ S3_SINGLE_PUT_ACL: "private" }, "s3");
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("lists and signs x-amz-acl: private; an added public-read is refused and the object stays private", async () => {
    const uploads = `/api/projects/${gw.projectId}/uploads`;
    const data = randomBytes(100);
    const reply = await call(gw.app, "POST", `${uploads}/url`, {
      headers: gw.auth,
      body: { fileName: "clip.mp4", mimeType: "video/mp4", contentLength: data.length },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const { url, headers, requestKey } = reply.body.result;
    expect(headers).toEqual({ "if-none-match": "*", "x-amz-acl": "private" });
    const put = async (sent: Record<string, string>) => {
      const response = await fetch(url, { method: "PUT", body: data, headers: sent });
      await response.arrayBuffer();
      return response.status;
    };
    expect(await put({ ...headers, ...PUBLIC_READ })).toBe(403);
    expect(await put(headers)).toBe(200);
    const { S3_ENDPOINT, S3_BUCKET } = s3Env();
    const path = objectKey(gw.projectId, requestKey).split("/").map(encodeURIComponent).join("/");
    expect((await fetch(`${S3_ENDPOINT}/${S3_BUCKET}/${path}`)).status).toBe(403);
    expect((await call(gw.app, "POST", `${uploads}/success/${requestKey}`, { headers: gw.auth })).status).toBe(200);
  });
});

describe("the seed's plain PUT on the embedded store", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({}, "local");
  });
  afterAll(async () => {
    await gw?.close();
  });

  it.each([
    ["the body alone", {}],
    ["the body with the file's own type", { "content-type": "video/mp4" }],
  ])("%s stores the file, once: a second PUT is refused with 412 and the first bytes stay", async (_, headers) => {
    const uploads = `/api/projects/${gw.projectId}/uploads`;
    const data = randomBytes(5000);
    const reply = await call(gw.app, "POST", `${uploads}/url`, {
      headers: gw.auth,
      body: { fileName: "clip.mp4", mimeType: "video/mp4", contentLength: data.length },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const { url, requestKey } = reply.body.result;
    expect(reply.body.result.headers).toEqual({});
    const first = await fetch(url, { method: "PUT", body: data, headers });
    expect(first.status, await first.clone().text()).toBe(200);
    const second = await fetch(url, { method: "PUT", body: randomBytes(data.length), headers });
    expect(second.status).toBe(412);
    expectErrorEnvelope({ status: second.status, body: await second.json() }, 412, "PRECONDITION_FAILED");
    const link = await call(gw.app, "POST", `${uploads}/success/${requestKey}`, { headers: gw.auth });
    expect(link.status, JSON.stringify(link.body)).toBe(200);
    const download = await fetch(link.body.result.downloadPath);
    expect(download.headers.get("content-type")).toBe("video/mp4");
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(data));
  });
});
