import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { md5Hasher, md5OfETag } from "./part-hash";

describe("md5Hasher", () => {
  it("streams a Blob into its MD5", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    expect(await md5Hasher(new Blob([data]))).toBe(createHash("md5").update(data).digest("hex"));
  });
});

describe("md5OfETag", () => {
  it("reads plain MD5 ETags, quoted or not, and ignores multipart or other ETags", () => {
    expect(md5OfETag('"0123456789ABCDEF0123456789abcdef"')).toBe("0123456789abcdef0123456789abcdef");
    expect(md5OfETag("0123456789abcdef0123456789abcdef")).toBe("0123456789abcdef0123456789abcdef");
    expect(md5OfETag('"0123456789abcdef0123456789abcdef-3"')).toBeUndefined();
    expect(md5OfETag('W/"abc"')).toBeUndefined();
    expect(md5OfETag(null)).toBeUndefined();
  });
});
