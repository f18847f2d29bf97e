import { describe, expect, it } from "vitest";
import { GiB, MiB } from "./limits";
import { z } from "zod";
import {
  completeUploadBodySchema,
  refineStartUpload,
  singlePutUploadBodySchema,
  startUploadBodyBase,
  startUploadBodySchema,
  startUploadHeadersSchema,
} from "./uploads.schemas";

const seed = { partsNumber: 3, fileName: "movie.mp4", contentLength: String(10 * MiB + 1024), mimeType: "video/mp4" };

function fieldsOf(input: unknown): string[] {
  const result = startUploadBodySchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => i.path.join("."));
}

describe("startUploadBodySchema", () => {
  it("accepts the seed's body, with contentLength as a string or a number", () => {
    expect(startUploadBodySchema.parse(seed)).toEqual(seed);
    expect(startUploadBodySchema.safeParse({ ...seed, contentLength: 10 * MiB + 1024 }).success).toBe(true);
    expect(startUploadBodySchema.safeParse({ ...seed, presignedUrlExpiryTimeHours: null }).success).toBe(true);
  });

  // Issue 25: sizes are plain numbers up to 5 TiB, exact past the 32-bit marks (2 and 4 GiB), as strings or numbers.
  it.each([
    [2 * GiB, 128],
    [4 * GiB, 256],
    [4 * GiB + 1, 257],
    [5 * GiB + 3, 321],
    [5 * 1024 * GiB, 10_000],
  ])("reads contentLength %i exactly, as a string and as a number", (size, partsNumber) => {
    for (const contentLength of [String(size), size]) {
      expect(Number(startUploadBodySchema.parse({ ...seed, contentLength, partsNumber }).contentLength)).toBe(size);
    }
  });

  it.each([
    [{ ...seed, partsNumber: 0 }, "partsNumber"],
    [{ ...seed, partsNumber: 1.5 }, "partsNumber"],
    [{ ...seed, partsNumber: 10_001 }, "partsNumber"],
    [{ ...seed, partsNumber: 30 }, "partsNumber"],
    [{ ...seed, contentLength: "0" }, "contentLength"],
    [{ ...seed, contentLength: "12abc" }, "contentLength"],
    [{ ...seed, contentLength: -5 }, "contentLength"],
    [{ ...seed, contentLength: "99999999999999999999999999" }, "contentLength"],
    [{ ...seed, fileName: "" }, "fileName"],
    [{ ...seed, fileName: "a\nb" }, "fileName"],
    [{ ...seed, fileName: "x".repeat(256) }, "fileName"],
    [{ ...seed, fileName: "movie\ud800.mp4" }, "fileName"],
    [{ ...seed, fileName: "\udc00movie.mp4" }, "fileName"],
    [{ ...seed, enableDuplicateCheck: true, fileHash: "ab\ud83d" }, "fileHash"],
    [{ ...seed, enableDuplicateCheck: true, fileHash: "ab\u0007" }, "fileHash"],
    [{ ...seed, mimeType: "video" }, "mimeType"],
    [{ ...seed, mimeType: "video/mp4; codecs=avc1" }, "mimeType"],
    [{ ...seed, presignedUrlExpiryTimeHours: 169 }, "presignedUrlExpiryTimeHours"],
    [{ ...seed, presignedUrlExpiryTimeHours: 0 }, "presignedUrlExpiryTimeHours"],
    [{ ...seed, enableDuplicateCheck: true }, "fileHash"],
  ])("refuses %j naming %s", (input, field) => {
    expect(fieldsOf(input)).toEqual([field]);
  });

  it("accepts any well-formed text in a file name: emoji (surrogate pairs), right-to-left, combining marks", () => {
    expect(fieldsOf({ ...seed, fileName: "🎬 فيلم e\u0301 \u202e.mp4" })).toEqual([]);
  });

  it("lists every problem, not just the first", () => {
    expect(fieldsOf({ partsNumber: "3", fileName: "", mimeType: "mp4" }).sort()).toEqual(
      ["contentLength", "fileName", "mimeType", "partsNumber"].sort(),
    );
  });
});

describe("metadata on start", () => {
  const withMetadata = (metadata: unknown) => ({ ...seed, metadata });

  it("accepts a string-to-string map up to the limits, and no map at all", () => {
    const full = Object.fromEntries(
      Array.from({ length: 32 }, (_, i) => [`k${String(i).padStart(2, "0")}`, "v".repeat(250)]),
    );
    expect(fieldsOf(withMetadata(full))).toEqual([]);
    expect(fieldsOf(withMetadata({ title: "Été 🎬", "owner:id": "42" }))).toEqual([]);
    expect(fieldsOf(withMetadata({ title: "x".repeat(1024) }))).toEqual([]);
    expect(fieldsOf(withMetadata(null))).toEqual([]);
    expect(fieldsOf(seed)).toEqual([]);
  });

  it.each([
    [{ title: 1 }, "metadata.title"],
    [{ "": "v" }, "metadata."],
    [{ title: null }, "metadata.title"],
    [{ nested: { a: "b" } }, "metadata.nested"],
    [["a"], "metadata"],
    ["title", "metadata"],
    [{ title: "a\u0000b" }, "metadata.title"],
    [{ title: "a\nb" }, "metadata.title"],
    [{ title: "lone \ud800 surrogate" }, "metadata.title"],
    [{ "bad\u0007key": "v" }, "metadata.bad\u0007key"],
    [{ "\udc00": "v" }, "metadata.\udc00"],
    [{ title: "x".repeat(1025) }, "metadata.title"],
    [{ title: "é".repeat(513) }, "metadata.title"], // 1026 bytes in UTF-8, though 513 characters
    [{ ["k".repeat(129)]: "v" }, `metadata.${"k".repeat(129)}`],
    [Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])), "metadata"],
    [Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, "v".repeat(1000)])), "metadata"],
    [{ big: "x".repeat(100_000) }, "metadata.big"], // and "metadata" (8 KiB in all)
  ])("refuses metadata %# naming its field", (metadata, field) => {
    expect(fieldsOf(withMetadata(metadata))[0]).toBe(field);
  });
});

describe("completeUploadBodySchema", () => {
  it("names the part at fault", () => {
    const result = completeUploadBodySchema.safeParse({
      requestKey: "k",
      parts: [
        { partNumber: 1, eTag: "a" },
        { partNumber: 0, eTag: "" },
      ],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual(["parts.1.partNumber", "parts.1.eTag"]);
  });
});

describe("startUploadHeadersSchema", () => {
  const parse = (value: string) => startUploadHeadersSchema.safeParse({ "idempotency-key": value });

  it("takes the key as a structured-field String or bare, and makes it optional", () => {
    const uuid = "8e03978e-40d5-43e8-bc93-6894a57f9324";
    expect(parse(`"${uuid}"`).data).toEqual({ "idempotency-key": uuid });
    expect(parse(uuid).data).toEqual({ "idempotency-key": uuid });
    expect(parse("x".repeat(255)).success).toBe(true);
    expect(startUploadHeadersSchema.parse({ authorization: "Bearer k" })).toEqual({});
  });

  it.each([
    ["empty", ""],
    ["empty quotes", '""'],
    ["too long", "x".repeat(256)],
    ["a space", "a b"],
    ["two keys, as Node joins repeated headers", '"a", "b"'],
    ["a quote inside", 'a"b'],
    ["a backslash", "a\\b"],
    ["a control character", "a\tb"],
    ["non-ASCII", "clé"],
    ["a lone quote", '"'],
  ])("refuses %s", (_, value) => {
    const result = parse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual(["idempotency-key"]);
  });
});

describe("startUploadBodyBase and refineStartUpload", () => {
  const extended = refineStartUpload(startUploadBodyBase.extend({ costCenter: z.string().regex(/^CC-[0-9]{4}$/) }));

  it("extends the start body with a field of the platform's own, keeping it in the parsed body", () => {
    expect(extended.parse({ ...seed, costCenter: "CC-0042" })).toEqual({ ...seed, costCenter: "CC-0042" });
    const missing = extended.safeParse(seed);
    expect(missing.success ? [] : missing.error.issues.map((i) => i.path.join("."))).toEqual(["costCenter"]);
  });

  it("keeps the gateway's cross-field checks on the extension", () => {
    const noPlan = extended.safeParse({ ...seed, costCenter: "CC-0042", partsNumber: 30 });
    expect(noPlan.success ? [] : noPlan.error.issues.map((i) => i.path.join("."))).toEqual(["partsNumber"]);
    const noHash = extended.safeParse({ ...seed, costCenter: "CC-0042", enableDuplicateCheck: true });
    expect(noHash.success ? [] : noHash.error.issues.map((i) => i.path.join("."))).toEqual(["fileHash"]);
  });

  it("is the base of the exported start schema, which behaves as before", () => {
    expect(startUploadBodyBase.shape).toEqual(startUploadBodySchema.innerType().shape);
    // The base alone has no cross-field checks: the plan problem passes it and fails the refined schema.
    expect(startUploadBodyBase.safeParse({ ...seed, partsNumber: 30 }).success).toBe(true);
    expect(startUploadBodySchema.safeParse({ ...seed, partsNumber: 30 }).success).toBe(false);
  });
});

describe("singlePutUploadBodySchema", () => {
  const small = { fileName: "clip.mp4", mimeType: "video/mp4", contentLength: "1024" };
  const fieldsOfSingle = (input: unknown) => {
    const result = singlePutUploadBodySchema.safeParse(input);
    return result.success ? [] : result.error.issues.map((i) => i.path.join("."));
  };

  it("accepts the family's body (fileName, mimeType, contentLength), up to 5 GiB and down to an empty file", () => {
    expect(singlePutUploadBodySchema.parse(small)).toEqual(small);
    expect(fieldsOfSingle({ ...small, contentLength: 1024 })).toEqual([]);
    expect(fieldsOfSingle({ ...small, contentLength: String(5 * GiB) })).toEqual([]);
    expect(fieldsOfSingle({ ...small, contentLength: "0" })).toEqual([]);
    expect(
      fieldsOfSingle({ ...small, presignedUrlExpiryTimeHours: 168, enableDuplicateCheck: true, fileHash: "h" }),
    ).toEqual([]);
  });

  it.each([
    [{ ...small, contentLength: String(5 * GiB + 1) }, "contentLength"],
    [{ ...small, contentLength: 5 * GiB + 1 }, "contentLength"],
    [{ ...small, contentLength: "99999999999999999999999999" }, "contentLength"],
    [{ ...small, contentLength: "1e3" }, "contentLength"],
    [{ ...small, contentLength: -1 }, "contentLength"],
    [{ ...small, contentLength: 1.5 }, "contentLength"],
    [{ ...small, contentLength: undefined }, "contentLength"],
    [{ ...small, fileName: "" }, "fileName"],
    [{ ...small, fileName: "a\u0000b" }, "fileName"],
    [{ ...small, fileName: "a\u0085b" }, "fileName"],
    [{ ...small, fileName: "x".repeat(100_000) }, "fileName"],
    [{ ...small, fileName: "clip\ud800.mp4" }, "fileName"],
    [{ ...small, fileName: "\udfffclip.mp4" }, "fileName"],
    [{ ...small, mimeType: "text/plain\r\nX-Evil: 1" }, "mimeType"],
    [{ ...small, mimeType: "" }, "mimeType"],
    [{ ...small, enableDuplicateCheck: true }, "fileHash"],
    [{ ...small, presignedUrlExpiryTimeHours: 0 }, "presignedUrlExpiryTimeHours"],
  ])("refuses %j naming %s", (input, field) => {
    expect(fieldsOfSingle(input)).toEqual([field]);
  });

  it("reports the single-PUT limit, not the multipart one", () => {
    const result = singlePutUploadBodySchema.safeParse({ ...small, contentLength: String(6 * GiB) });
    expect(result.error?.issues[0]?.message).toBe(`must be from 0 to ${5 * GiB} bytes (5 GiB)`);
  });

  it("lists every problem, not just the first", () => {
    expect(fieldsOfSingle({ fileName: "\u0007", mimeType: "x" }).sort()).toEqual([
      "contentLength",
      "fileName",
      "mimeType",
    ]);
  });
});
