import { describe, expect, it } from "vitest";
import { LocalUrlSigner, type SignedGrant } from "./local-url-signer";

const signer = new LocalUrlSigner(Buffer.from("a-secret-of-at-least-thirty-two-bytes!"));
const grant: SignedGrant = {
  method: "PUT",
  key: "projects/p/files/k",
  uploadId: "u1",
  partNumber: 2,
  size: 1000,
  expires: 2_000_000_000,
};

describe("LocalUrlSigner", () => {
  it("accepts its own signature until the expiry", () => {
    const signature = signer.sign(grant);
    expect(signer.verify(grant, signature, 1_999_999_999_000)).toBe("ok");
    expect(signer.verify(grant, signature, 2_000_000_001_000)).toBe("expired");
  });

  it.each([
    ["another part", { partNumber: 3 }],
    ["another size", { size: 1001 }],
    ["no size", { size: undefined }],
    ["another upload", { uploadId: "u2" }],
    ["another key", { key: "projects/p/files/other" }],
    ["another method", { method: "GET" as const }],
    ["a later expiry", { expires: 2_000_000_001 }],
    ["a content type", { contentType: "video/mp4" }],
    ["a content disposition", { contentDisposition: "attachment" }],
  ])("refuses the signature for %s", (_, change) => {
    expect(signer.verify({ ...grant, ...change }, signer.sign(grant), 0)).toBe("invalid");
  });

  it("refuses signatures made with another secret, and garbage", () => {
    const other = new LocalUrlSigner(Buffer.from("another-secret-of-thirty-two-bytes!!"));
    expect(signer.verify(grant, other.sign(grant), 0)).toBe("invalid");
    expect(signer.verify(grant, "", 0)).toBe("invalid");
  });
});

describe("LocalUrlSigner: single-PUT and named-download grants", () => {
  const single: SignedGrant = {
    method: "PUT",
    key: "projects/p/files/k",
    size: 10,
    contentType: "video/mp4",
    expires: 2_000_000_000,
  };

  it.each([
    ["another content type", { contentType: "video/webm" }],
    ["no content type", { contentType: undefined }],
    ["another size", { size: 11 }],
    ["a part of an upload", { uploadId: "u1", partNumber: 1 }],
  ])("refuses a single-PUT signature for %s", (_, change) => {
    expect(signer.verify({ ...single, ...change }, signer.sign(single), 0)).toBe("invalid");
    expect(signer.verify(single, signer.sign(single), 0)).toBe("ok");
  });

  it("binds a download's disposition", () => {
    const download: SignedGrant = {
      method: "GET",
      key: "k",
      contentDisposition: 'attachment; filename="a"',
      expires: 2_000_000_000,
    };
    expect(signer.verify({ ...download, contentDisposition: "inline" }, signer.sign(download), 0)).toBe("invalid");
    expect(signer.verify({ ...download, contentDisposition: undefined }, signer.sign(download), 0)).toBe("invalid");
  });
});
