import { MiB } from "@upload-gateway/contract";
import { describe, expect, it } from "vitest";
import { gatewaySignRequestOptions, S3RequestRefusedError, type UppyS3Request } from "../src/sign-request-options";
import { fakeUppy, inMemoryGateway } from "./in-memory-gateway";

/** The XML a `data:` URL answers (what Uppy 6 reads as S3's reply). */
function replyOf(url: string): string {
  expect(url).toMatch(/^data:application\/xml;charset=utf-8,/);
  return decodeURIComponent(url.slice(url.indexOf(",") + 1));
}

/** Uppy 6's `AwsS3` with the options, for a file: what it would ask `signRequest`, in the order it asks. */
function setUp(options: { singlePutHeaders?: Record<string, string>; partSize?: number } = {}) {
  const gateway = inMemoryGateway({ singlePutHeaders: options.singlePutHeaders });
  const uppy = fakeUppy();
  const { partSize } = options;
  const s3 = gatewaySignRequestOptions({ client: gateway.client, projectId: "films", uppy: uppy.uppy, partSize });
  /** The key Uppy asks for a new file under (its `generateObjectKey`). */
  const keyFor = (id: string, size: number, type = "video/mp4") => s3.generateObjectKey(uppy.add(id, size, type));
  /** Uppy's CreateMultipartUpload for a new file: the gateway's request key and upload id. */
  const create = async (id: string, size: number) => {
    const signed = await s3.signRequest({ method: "POST", key: keyFor(id, size) });
    const xml = replyOf(signed.url);
    return { key: signed.key!, uploadId: /<UploadId>(.*?)<\/UploadId>/.exec(xml)![1]!, xml };
  };
  const refused = async (request: UppyS3Request) => {
    const before = gateway.calls.length;
    await expect(s3.signRequest(request)).rejects.toThrow(S3RequestRefusedError);
    // A refused request reaches the gateway not at all.
    expect(gateway.calls.slice(before)).toEqual([]);
  };
  return { gateway, uppy, s3, keyFor, create, refused };
}

describe("gatewaySignRequestOptions (Uppy 6's signRequest)", () => {
  it("cuts a file in the gateway's plan: multipart above one part, chunks of the planned part size", () => {
    const { s3, uppy } = setUp({ partSize: 8 * MiB });
    // 20 MiB + 3 at 8 MiB parts: 3 even parts of 6.67 MiB (Uppy's own would be 8 + 8 + 4, which complete refuses).
    expect(s3.getChunkSize({ size: 20 * MiB + 3 })).toBe(6_990_508);
    expect(s3.shouldUseMultipart(uppy.add("big", 20 * MiB + 3))).toBe(true);
    expect(s3.shouldUseMultipart(uppy.add("one-part", 8 * MiB))).toBe(false);
    expect(s3.shouldUseMultipart(uppy.add("empty", 0))).toBe(false);
  });

  it("create → the gateway's start with the file's plan; Uppy names the upload by its request key", async () => {
    const { gateway, create } = setUp({ partSize: 8 * MiB });
    const { key, uploadId, xml } = await create("clip", 20 * MiB + 3);
    expect(gateway.calls).toEqual([`start 3 ${20 * MiB + 3} video/mp4 clip.mp4`]);
    expect(key).toBe("rk-1");
    expect(uploadId).toBe("up-1");
    expect(xml).toContain("<InitiateMultipartUploadResult><Key>rk-1</Key><UploadId>up-1</UploadId>");
  });

  it("upload part → the part URL the start signed; a part asked for again gets a fresh one from resume", async () => {
    const { gateway, s3, create } = setUp({ partSize: 8 * MiB });
    const { key, uploadId } = await create("clip", 20 * MiB + 3);
    const part = (partNumber: number) => s3.signRequest({ method: "PUT", key, uploadId, partNumber });
    expect(await part(1)).toEqual({ url: "https://store.test/rk-1/1?signing=1" });
    expect(await part(3)).toEqual({ url: "https://store.test/rk-1/3?signing=1" });
    expect(gateway.calls).toHaveLength(1);
    // Asked again: its PUT failed (an expired or refused URL), so the URL is signed anew.
    expect(await part(1)).toEqual({ url: "https://store.test/rk-1/1?signing=2" });
    expect(gateway.calls.at(-1)).toBe("resume rk-1");
    // A part asked for again that the store holds by then (its PUT's reply was lost) is not sent again.
    await part(2);
    gateway.store(key, 2);
    await expect(part(2)).rejects.toThrow(/Part 2 of upload rk-1 is already stored/);
  });

  it("refuses parts outside the plan, another upload id or key, and methods an upload does not use", async () => {
    const { s3, create, keyFor, refused } = setUp({ partSize: 8 * MiB });
    const { key, uploadId } = await create("clip", 20 * MiB + 3);
    await refused({ method: "PUT", key, uploadId, partNumber: 0 });
    await refused({ method: "PUT", key, uploadId, partNumber: 4 });
    await refused({ method: "PUT", key, uploadId, partNumber: 1.5 });
    await refused({ method: "PUT", key, uploadId, partNumber: Number.NaN });
    await refused({ method: "PUT", key, uploadId: "up-other", partNumber: 1 });
    await refused({ method: "PUT", key: "rk-other", uploadId, partNumber: 1 });
    await refused({ method: "POST", key, uploadId: "up-other" });
    await refused({ method: "DELETE", key: "rk-other", uploadId });
    // Create and put object only for a key these options gave Uppy for a new file, and once.
    await refused({ method: "POST", key: "someone-elses-key" });
    await refused({ method: "PUT", key });
    const fresh = keyFor("again", 20 * MiB);
    await s3.signRequest({ method: "POST", key: fresh });
    await refused({ method: "POST", key: fresh });
    // Uppy asked for another key for the same file (its upload started again): the older key no longer stands for it.
    const older = keyFor("restarted", 20 * MiB);
    keyFor("restarted", 20 * MiB);
    await refused({ method: "POST", key: older });
    // Requests no upload through the gateway makes: delete an object, HEAD, a part without an upload.
    await refused({ method: "DELETE", key });
    await refused({ method: "HEAD", key, uploadId });
    await refused({ method: "PUT", key, partNumber: 1 });
    await refused({ method: "GET", key });
    await refused({ method: "PATCH", key, uploadId });
    await expect(s3.signRequest({ method: "GET", key, uploadId, partNumber: 1 })).rejects.toThrow(
      /refused to sign GET "rk-1" \(uploadId up-1, part 1\): not a request of an upload/,
    );
  });

  it("list parts → resume: the stored parts in S3's reply, fresh URLs for the others", async () => {
    const { gateway, s3, create } = setUp({ partSize: 8 * MiB });
    const { key, uploadId } = await create("clip", 20 * MiB + 3);
    gateway.store(key, 1, '"a&b"');
    gateway.store(key, 3, '"c"');
    const xml = replyOf((await s3.signRequest({ method: "GET", key, uploadId })).url);
    expect(gateway.calls.at(-1)).toBe("resume rk-1");
    expect(xml).toContain("<Part><PartNumber>1</PartNumber><ETag>&quot;a&amp;b&quot;</ETag></Part>");
    expect(xml).toContain("<Part><PartNumber>3</PartNumber><ETag>&quot;c&quot;</ETag></Part>");
    expect(xml).not.toContain("<PartNumber>2</PartNumber>");
    const part2 = await s3.signRequest({ method: "PUT", key, uploadId, partNumber: 2 });
    expect(part2).toEqual({ url: "https://store.test/rk-1/2?signing=2" });
    // The gateway's upload under this key has another upload id: not the upload Uppy means.
    await expect(s3.signRequest({ method: "GET", key, uploadId: "up-other" })).rejects.toThrow(S3RequestRefusedError);
  });

  it("list parts resumes an upload these options did not start (restored after a reload), plan checked", async () => {
    const first = setUp({ partSize: 8 * MiB });
    const { key, uploadId } = await first.create("clip", 20 * MiB + 3);
    first.gateway.store(key, 1);
    // The page reloaded: new options, same gateway (the same client), same part size.
    const reloaded = (partSize: number) =>
      gatewaySignRequestOptions({ client: first.gateway.client, projectId: "films", uppy: fakeUppy().uppy, partSize });
    const again = reloaded(8 * MiB);
    const listed = await again.signRequest({ method: "GET", key, uploadId });
    expect(replyOf(listed.url)).toContain("<PartNumber>1</PartNumber>");
    const part2 = await again.signRequest({ method: "PUT", key, uploadId, partNumber: 2 });
    expect(part2).toMatchObject({ url: expect.stringContaining("/rk-1/2?") });
    // With another part size Uppy would cut other chunks than the upload's plan: refused before any byte is sent.
    await expect(reloaded(5 * MiB).signRequest({ method: "GET", key, uploadId })).rejects.toThrow(
      /planned in 3 parts of 6990508 bytes, Uppy would cut 5 of/,
    );
  });

  it("complete → the gateway's complete with the parts the store holds, the download URL as Location", async () => {
    const { gateway, s3, create, refused } = setUp({ partSize: 8 * MiB });
    const { key, uploadId } = await create("clip", 20 * MiB + 3);
    gateway.store(key, 3);
    gateway.store(key, 1);
    // A part missing: no complete is sent (the gateway would refuse it); the error says to retry.
    await expect(s3.signRequest({ method: "POST", key, uploadId })).rejects.toThrow(/does not hold part\(s\) 2 yet/);
    expect(gateway.calls.some((c) => c.startsWith("complete"))).toBe(false);
    gateway.store(key, 2);
    const xml = replyOf((await s3.signRequest({ method: "POST", key, uploadId })).url);
    const completed = 'complete rk-1 1="etag-1",2="etag-2",3="etag-3"';
    expect(gateway.calls.slice(-3)).toEqual(["resume rk-1", completed, "success rk-1"]);
    expect(xml).toContain("<Location>https://gateway.test/download/rk-1</Location><Key>rk-1</Key>");
    expect(gateway.uploads.get(key)!.state).toBe("completed");
    // Done: nothing more is signed for it.
    await refused({ method: "PUT", key, uploadId, partNumber: 1 });
    await refused({ method: "POST", key, uploadId });
  });

  it("abort → the gateway's abort (one already gone is not an error); nothing signed for it after", async () => {
    const { gateway, s3, create, refused } = setUp({ partSize: 8 * MiB });
    const { key, uploadId } = await create("clip", 20 * MiB + 3);
    const aborted = await s3.signRequest({ method: "DELETE", key, uploadId });
    expect(aborted).toEqual({ url: "data:application/xml;charset=utf-8," });
    expect(gateway.calls.at(-1)).toBe("abort rk-1");
    expect(gateway.uploads.get(key)!.state).toBe("aborted");
    await refused({ method: "PUT", key, uploadId, partNumber: 1 });
    await refused({ method: "DELETE", key, uploadId });
    // Aborted elsewhere first (another tab): the gateway's 404 is not this abort's failure.
    const second = await create("other", 20 * MiB);
    await gateway.client.abort("films", second.key);
    const abortedElsewhere = s3.signRequest({ method: "DELETE", key: second.key, uploadId: second.uploadId });
    await expect(abortedElsewhere).resolves.toBeDefined();
  });

  it("put object → POST /url with the signed headers; the post-processing step completes it after", async () => {
    const { gateway, s3, uppy, keyFor } = setUp({ partSize: 8 * MiB });
    const key = keyFor("small", 7 * MiB, "image/png");
    const signed = await s3.signRequest({ method: "PUT", key, contentType: "image/png" });
    expect(gateway.calls).toEqual([`url ${7 * MiB} image/png small.mp4`]);
    expect(signed).toEqual({
      url: "https://store.test/rk-1?single",
      key: "rk-1",
      headers: { "Content-Type": "image/png", "If-None-Match": "*" },
    });
    // Uppy PUTs the file and reports it uploaded; then its post-processing steps run.
    gateway.store("rk-1", 1);
    const putUrl = "https://store.test/rk-1";
    uppy.uppy.setFileState("small", { uploadURL: putUrl, response: { uploadURL: putUrl } });
    uppy.files.get("small")!.progress = { uploadComplete: true };
    await uppy.postProcess(["small"]);
    expect(gateway.calls.at(-1)).toBe("success rk-1");
    expect(gateway.uploads.get("rk-1")!.state).toBe("completed");
    const download = "https://gateway.test/download/rk-1";
    expect(uppy.files.get("small")).toMatchObject({ uploadURL: download, response: { uploadURL: download } });
    expect(uppy.errors).toEqual([]);
    // Run again (a later batch): nothing left to complete.
    await uppy.postProcess(["small"]);
    expect(gateway.calls.filter((c) => c.startsWith("success"))).toHaveLength(1);
  });

  it("passes the /url answer's own headers when the gateway names them", async () => {
    const headers = { "Content-Type": "image/png" };
    const { s3, keyFor } = setUp({ singlePutHeaders: headers });
    expect((await s3.signRequest({ method: "PUT", key: keyFor("small", 100, "image/png") })).headers).toEqual(headers);
  });

  it("fails a single PUT the gateway does not confirm; a retried one's earlier upload is aborted", async () => {
    const { gateway, s3, uppy, keyFor } = setUp();
    await s3.signRequest({ method: "PUT", key: keyFor("small", 100) });
    uppy.files.get("small")!.progress = { uploadComplete: true };
    // Uppy said the PUT succeeded but the store holds nothing: the gateway answers 409, the file fails.
    await uppy.postProcess(["small"]);
    expect(uppy.errors).toEqual([{ fileID: "small", message: expect.stringMatching(/not stored|409/) }]);
    // Retried: a new upload, and the first one (never to be completed) is aborted.
    await s3.signRequest({ method: "PUT", key: keyFor("small", 100) });
    await new Promise((r) => setTimeout(r, 0));
    const put = "url 100 video/mp4 small.mp4";
    expect(gateway.calls).toEqual([put, "success rk-1", put, "abort rk-1"]);
    // A failed file is left alone by the step (its retry signs a new upload).
    uppy.files.get("small")!.error = "failed";
    await uppy.postProcess(["small"]);
    expect(gateway.calls.filter((c) => c === "success rk-2")).toEqual([]);
  });

  it("aborts a single PUT's upload when its file is removed before the upload was completed", async () => {
    const { gateway, s3, uppy, keyFor } = setUp();
    await s3.signRequest({ method: "PUT", key: keyFor("gone", 100) });
    gateway.store("rk-1", 1);
    uppy.remove("gone");
    await new Promise((r) => setTimeout(r, 0));
    expect(gateway.calls.at(-1)).toBe("abort rk-1");
    expect(gateway.uploads.get("rk-1")!.state).toBe("aborted");
    // A completed one stays: removing its file from Uppy does not delete the upload.
    await s3.signRequest({ method: "PUT", key: keyFor("kept", 100) });
    gateway.store("rk-2", 1);
    uppy.files.get("kept")!.progress = { uploadComplete: true };
    await uppy.postProcess(["kept"]);
    uppy.remove("kept");
    await new Promise((r) => setTimeout(r, 0));
    expect(gateway.uploads.get("rk-2")!.state).toBe("completed");
    expect(gateway.calls.filter((c) => c.startsWith("abort"))).toEqual(["abort rk-1"]);
  });

  it("refuses a start the gateway planned differently from Uppy's chunks, and aborts it", async () => {
    const { gateway, s3, keyFor } = setUp({ partSize: 8 * MiB });
    gateway.partSizeOverride = 1;
    const create = s3.signRequest({ method: "POST", key: keyFor("clip", 20 * MiB + 3) });
    await expect(create).rejects.toThrow(/The gateway planned 3 parts/);
    expect(gateway.calls.at(-1)).toBe("abort rk-1");
  });

  it("needs the Uppy instance, and a way to reach the gateway", () => {
    const gateway = inMemoryGateway();
    const { client } = gateway;
    expect(() => gatewaySignRequestOptions({ client, projectId: "p" } as never)).toThrow(/needs `uppy`/);
    expect(() => gatewaySignRequestOptions({ projectId: "p", uppy: fakeUppy().uppy })).toThrow(/needs `client`/);
    expect(() => gatewaySignRequestOptions({ client, projectId: "p", uppy: fakeUppy().uppy, partSize: MiB })).toThrow(
      /at least 5 MiB/,
    );
  });
});
