import { describe, expect, it } from "vitest";
import { LocalUrlSigner, type SignedGrant } from "./local-url-signer";

const signer = new LocalUrlSigner(Buffer.from("a-secret-of-at-least-thirty-two-bytes!"));
const grant: SignedGrant = { method: "PUT", key: "projects/p/files/k", uploadId: "u1", partNumber: 2, size: 1000, expires: 2_000_000_000 };

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
  ])("refuses the signature for %s", (_, change) => {
    expect(signer.verify({ ...grant, ...change }, signer.sign(grant), 0)).toBe("invalid");
  });

  it("refuses signatures made with another secret, and garbage", () => {
    const other = new LocalUrlSigner(Buffer.from("another-secret-of-thirty-two-bytes!!"));
    expect(signer.verify(grant, other.sign(grant), 0)).toBe("invalid");
    expect(signer.verify(grant, "", 0)).toBe("invalid");
  });
});
