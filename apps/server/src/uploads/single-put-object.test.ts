import { describe, expect, it } from "vitest";
import { headersNotSigned } from "./single-put-object";

const signed = { "file-name": "clip.mp4", "request-key": "k1" };

describe("headersNotSigned", () => {
  it("finds nothing on an object stored as its URL asked", () => {
    expect(headersNotSigned({ size: 1, metadata: { ...signed }, storedHeaders: {} }, signed)).toEqual([]);
  });

  it("names added metadata, changed signed metadata and stored headers", () => {
    const head = {
      size: 1,
      // RGW joins a header repeating a signed entry into its value.
      metadata: { "file-name": "evil,clip.mp4", "request-key": "k1", Extra: "1" },
      storedHeaders: { "cache-control": "public, max-age=31536000", "content-encoding": "gzip" },
    };
    expect(headersNotSigned(head, signed)).toEqual([
      "cache-control",
      "content-encoding",
      "x-amz-meta-extra",
      "x-amz-meta-file-name",
    ]);
  });
});
