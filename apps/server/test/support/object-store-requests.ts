import { createHash } from "node:crypto";
import { expect } from "vitest";
import type { ObjectStore } from "../../src/storage/object-store.port";

// What the object store conformance suites send: parts and objects PUT to the store's signed URLs, as clients do.

export const MiB = 1024 * 1024;
export const md5 = (data: Uint8Array) => `"${createHash("md5").update(data).digest("hex")}"`;
export const meta = {
  contentType: "video/mp4",
  contentDisposition: 'attachment; filename="clip.mp4"',
  metadata: { "file-name": "clip.mp4" },
};

export async function put(
  storage: ObjectStore,
  objectKey: string,
  uploadId: string,
  partNumber: number,
  data: Uint8Array,
) {
  const [url] = await storage.presignUploadParts(objectKey, uploadId, [{ partNumber, size: data.length }], 600);
  return fetch(url!, { method: "PUT", body: data });
}

/** A body of `data` sent without a Content-Length (chunked), so the store can only count it as it arrives. */
export function chunked(data: Uint8Array): { body: ReadableStream<Uint8Array>; duplex: "half" } {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < data.length; i += 64 * 1024) controller.enqueue(data.subarray(i, i + 64 * 1024));
      controller.close();
    },
  });
  return { body, duplex: "half" };
}

/** A refused PUT: some 4xx (S3 answers 403 to a length other than the signed one; the embedded store 400 or 413). */
export async function expectRefused(attempt: Promise<Response>): Promise<void> {
  let status: number;
  try {
    const response = await attempt;
    status = response.status;
    await response.arrayBuffer().catch(() => undefined);
  } catch {
    // The store may close the connection before the client has sent its whole body: refused too.
    return;
  }
  expect(status).toBeGreaterThanOrEqual(400);
  expect(status).toBeLessThan(500);
}
