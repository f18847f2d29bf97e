import { errorEnvelope, MiB, planParts, VERIFICATION_EXAMPLES, type Verification } from "@upload-gateway/contract";
import { describe, expect, it, vi } from "vitest";
import type { ApiClient, DownloadResult } from "./api-client";
import { ContentRejectedError, UploadFailedError, UploadGatewayError } from "./errors";
import type { RetryNotice } from "./retry-budget";
import type { PartTransport } from "./transport";
import { upload } from "./uploader";

const PASSED: Verification = VERIFICATION_EXAMPLES.passed;
const FAILED: Verification = VERIFICATION_EXAMPLES.failed;
const REJECTION = "The stored file failed the content check: declared video/mp4, found an HTML page (text/html).";

const refusal = (code: "CONTENT_REJECTED" | "VERIFICATION_PENDING", message?: string, retryAfter?: string) =>
  new UploadGatewayError(code === "CONTENT_REJECTED" ? 422 : 409, errorEnvelope([{ code, message }]), retryAfter);

/**
 * A gateway in memory for the uploader's last steps: start (multipart or single PUT), complete, `success` and the
 * upload's status; parts are stored by `transport`. Each call is recorded; `success` and `complete` answer what the
 * test queues (an error to throw, or a result), then a plain success.
 */
function fakeGateway() {
  const calls: string[] = [];
  const successAnswers: (DownloadResult | Error)[] = [];
  const completeAnswers: Error[] = [];
  let details: Verification | Error | undefined;
  const client = {
    start: (_projectId, body) => {
      calls.push("start");
      const planned = planParts(Number(body.contentLength), body.partsNumber);
      if (!planned.ok) throw new Error("bad plan");
      const { partSize, partsNumber } = planned.plan;
      const presignedUrl = Array.from({ length: partsNumber }, (_, i) => ({
        partNumber: i + 1,
        presignedUrl: `http://store.test/k1/${i + 1}`,
      }));
      return Promise.resolve({
        uploadId: "u1",
        requestKey: "k1",
        presignedUrl,
        partSize,
        partsNumber,
        contentLength: body.contentLength,
        expiresAt: new Date().toISOString(),
      });
    },
    startSinglePut: (_projectId, body) => {
      calls.push("startSinglePut");
      const expiresAt = new Date().toISOString();
      return Promise.resolve({ url: "http://store.test/k1/1", headers: {}, requestKey: "k1", ...body, expiresAt });
    },
    complete: () => {
      calls.push("complete");
      const answer = completeAnswers.shift();
      return answer ? Promise.reject(answer) : Promise.resolve(true as const);
    },
    downloadUrl: () => {
      calls.push("success");
      const answer = successAnswers.shift() ?? { downloadPath: "http://store.test/k1", expiresAt: "" };
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
    get: () => {
      calls.push("get");
      if (details instanceof Error) return Promise.reject(details);
      return Promise.resolve({ state: "rejected", verification: details } as Awaited<ReturnType<ApiClient["get"]>>);
    },
    abort: () => {
      calls.push("abort");
      return Promise.resolve(true as const);
    },
  } as Partial<ApiClient> as ApiClient;
  const transport: PartTransport = {
    reportsProgress: false,
    send: () => Promise.resolve({ status: 200, eTag: '"etag"', retryAfter: null }),
  };
  const options = { client, transport, projectId: "p", verifyParts: false, partSize: 5 * MiB };
  return {
    calls,
    options,
    succeed: (result: Partial<DownloadResult>) =>
      successAnswers.push({ downloadPath: "http://store.test/k1", expiresAt: "", ...result }),
    failSuccess: (error: Error) => successAnswers.push(error),
    failComplete: (error: Error) => completeAnswers.push(error),
    setDetails: (verification: Verification | Error | undefined) => (details = verification),
  };
}

const multipartFile = () => new Blob([new Uint8Array(6 * MiB)], { type: "video/mp4" });
const smallFile = () => new Blob([new Uint8Array(1024)], { type: "video/mp4" });

describe("upload() and the gateway's content check", () => {
  it("a multipart upload asks `success` once completed and returns its verification", async () => {
    const gateway = fakeGateway();
    gateway.succeed({ verification: PASSED });
    const result = await upload(multipartFile(), gateway.options);
    expect(result.transfer).toBe("multipart");
    expect(result.verification).toEqual(PASSED);
    expect(gateway.calls).toEqual(["start", "complete", "success"]);
  });

  it("a single PUT returns the verification of the `success` that completes it", async () => {
    const gateway = fakeGateway();
    gateway.succeed({ verification: PASSED });
    const result = await upload(smallFile(), gateway.options);
    expect(result.transfer).toBe("single-put");
    expect(result.verification).toEqual(PASSED);
    expect(gateway.calls).toEqual(["startSinglePut", "success"]);
  });

  it("leaves verification out when the gateway does not check content (an older gateway)", async () => {
    const gateway = fakeGateway();
    const result = await upload(multipartFile(), gateway.options);
    expect("verification" in result).toBe(false);
  });

  it("retries `success` while the check runs (VERIFICATION_PENDING), after the gateway's Retry-After", async () => {
    const gateway = fakeGateway();
    gateway.failSuccess(refusal("VERIFICATION_PENDING", undefined, "1"));
    gateway.succeed({ verification: PASSED });
    const notices: RetryNotice[] = [];
    const result = await upload(multipartFile(), { ...gateway.options, onRetry: (n) => notices.push(n) });
    expect(result.verification).toEqual(PASSED);
    expect(gateway.calls).toEqual(["start", "complete", "success", "success"]);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ code: "VERIFICATION_PENDING", delayMs: 1000, failures: 1 });
  });

  it("gives up on a check that stays pending once the retry budget is spent, without aborting the upload", async () => {
    const gateway = fakeGateway();
    for (let i = 0; i < 1000; i++) gateway.failSuccess(refusal("VERIFICATION_PENDING", undefined, "0"));
    const error = await upload(smallFile(), { ...gateway.options, retryForMs: 30 }).done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadFailedError);
    expect(error).not.toBeInstanceOf(ContentRejectedError);
    expect((error as Error).message).toMatch(/^Could not complete the upload: Gave up after \d+ attempts/);
    expect(gateway.calls).not.toContain("abort");
  });

  it("a file refused at complete fails with ContentRejectedError and the reason; not retried, not aborted", async () => {
    const gateway = fakeGateway();
    gateway.failComplete(refusal("CONTENT_REJECTED", REJECTION));
    gateway.setDetails(FAILED);
    const error = await upload(multipartFile(), gateway.options).done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContentRejectedError);
    expect(error).toBeInstanceOf(UploadFailedError);
    expect(error).toMatchObject({
      name: "ContentRejectedError",
      code: "CONTENT_REJECTED",
      message: REJECTION,
      reason: FAILED.reason,
      verification: FAILED,
      requestKey: "k1",
    });
    expect((error as ContentRejectedError).cause).toBeInstanceOf(UploadGatewayError);
    // Once each: the refusal is final, the upload is over on the gateway (nothing to abort), the status read once.
    expect(gateway.calls).toEqual(["start", "complete", "get"]);
  });

  it("a file refused at `success` fails alike; with its status unread, the refusal's sentence is the reason", async () => {
    const gateway = fakeGateway();
    gateway.failSuccess(refusal("CONTENT_REJECTED", REJECTION));
    gateway.setDetails(new Error("no answer"));
    const error = await upload(smallFile(), gateway.options).done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContentRejectedError);
    expect(error).toMatchObject({ reason: REJECTION, verification: undefined, requestKey: "k1" });
    expect(gateway.calls).toEqual(["startSinglePut", "success", "get"]);
  });

  it("does not take a status that has not recorded the failure yet (pending) for the check's findings", async () => {
    const gateway = fakeGateway();
    gateway.failSuccess(refusal("CONTENT_REJECTED", REJECTION));
    gateway.setDetails({ state: "pending", detectedMimeType: null });
    const error = await upload(smallFile(), gateway.options).done.catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: REJECTION, verification: undefined });
  });

  it("a cancel while the check runs is a cancel, not a rejection", async () => {
    const gateway = fakeGateway();
    const cancel = new AbortController();
    const pending = refusal("VERIFICATION_PENDING", undefined, "5");
    gateway.failSuccess(pending);
    const onRetry = vi.fn(() => cancel.abort());
    const error = await upload(smallFile(), { ...gateway.options, signal: cancel.signal, onRetry }).done.catch(
      (e: unknown) => e,
    );
    expect((error as Error).name).toBe("AbortError");
    expect(gateway.calls.at(-1)).toBe("abort");
  });
});
