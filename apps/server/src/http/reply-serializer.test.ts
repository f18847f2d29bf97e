import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PLACEHOLDER_VALUE, serializeReply, TABLE_MIN_ROWS } from "./reply-serializer";

/** A start's reply shaped as the gateway sends it, with `rows` part URLs. */
function startEnvelope(
  rows: number,
  url = (n: number) => `http://127.0.0.1:7480/b/k?partNumber=${n}&X-Amz-Signature=ab`,
) {
  return {
    success: true,
    errors: [],
    messages: [],
    result: {
      uploadId: "2~x",
      requestKey: "rk",
      presignedUrl: Array.from({ length: rows }, (_, i) => ({ partNumber: i + 1, presignedUrl: url(i + 1) })),
      partSize: 5242880,
      partsNumber: rows,
      contentLength: String(rows * 5242880),
      expiresAt: "2026-12-07T18:00:00.000Z",
      integrity: { contentMd5: true, eTagIsMd5: true },
    },
    resultInfo: null,
    statusCode: 200,
  };
}

const text = (reply: string | Buffer) => (typeof reply === "string" ? reply : reply.toString("utf8"));

describe("serializeReply", () => {
  it("writes a large start's part URLs straight into bytes, the same bytes JSON.stringify makes", () => {
    const envelope = startEnvelope(10_000);
    const reply = serializeReply(envelope);
    expect(Buffer.isBuffer(reply)).toBe(true);
    expect(text(reply)).toBe(JSON.stringify(envelope));
  });

  it("leaves small replies and error envelopes to JSON.stringify", () => {
    for (const payload of [startEnvelope(TABLE_MIN_ROWS - 1), { success: false, result: null, errors: [] }, [1], "x"]) {
      const reply = serializeReply(payload);
      expect(typeof reply).toBe("string");
      expect(reply).toBe(JSON.stringify(payload));
    }
  });

  it.each([
    ["a string JSON escapes", (n: number) => (n === 700 ? 'say "hi"' : "u")],
    ["a backslash", (n: number) => (n === 700 ? "a\\b" : "u")],
    ["a control character", (n: number) => (n === 3 ? "a\nb" : "u")],
    ["non-ASCII", (n: number) => (n === 999 ? "café" : "u")],
    ["a lone surrogate", (n: number) => (n === 999 ? "\ud800" : "u")],
  ])("falls back, still exact, on %s in a row", (_, url) => {
    const envelope = startEnvelope(1_000, url);
    const reply = serializeReply(envelope);
    expect(typeof reply).toBe("string");
    expect(reply).toBe(JSON.stringify(envelope));
  });

  it("falls back on rows it cannot vouch for: other keys, nested values, toJSON, holes, a class", () => {
    class Row {
      constructor(readonly partNumber: number) {}
    }
    const variants: ((rows: Record<string, unknown>[]) => unknown[])[] = [
      (rows) =>
        rows.map((row, i) => (i === 600 ? { presignedUrl: row.presignedUrl, partNumber: row.partNumber } : row)),
      (rows) => rows.map((row, i) => (i === 600 ? { ...row, extra: 1 } : row)),
      (rows) => rows.map((row, i) => (i === 600 ? { ...row, presignedUrl: undefined } : row)),
      (rows) => rows.map((row, i) => (i === 600 ? { ...row, presignedUrl: { a: 1 } } : row)),
      (rows) => rows.map((row, i) => (i === 600 ? { ...row, partNumber: Number.NaN } : row)),
      (rows) => rows.map((row, i) => (i === 600 ? { ...row, toJSON: () => "x" } : row)),
      (rows) => rows.map((row, i) => (i === 600 ? new Row(1) : row)),
      (rows) => {
        const holey: unknown[] = new Array(rows.length);
        rows.forEach((row, i) => {
          if (i !== 600) holey[i] = row;
        });
        return holey;
      },
    ];
    for (const variant of variants) {
      const envelope = startEnvelope(1_000);
      const payload = {
        ...envelope,
        result: { ...envelope.result, presignedUrl: variant(envelope.result.presignedUrl) },
      };
      const reply = serializeReply(payload);
      expect(typeof reply).toBe("string");
      expect(reply).toBe(JSON.stringify(payload));
    }
  });

  it("cannot be fooled by a string that spells the table's placeholder", () => {
    const envelope = startEnvelope(1_000);
    const payload = { ...envelope, result: { ...envelope.result, requestKey: PLACEHOLDER_VALUE } };
    expect(serializeReply(payload)).toBe(JSON.stringify(payload));
  });

  it("always makes JSON.stringify's text, whatever the envelope", () => {
    const value = fc.oneof(
      fc.string({ unit: "binary", maxLength: 8 }),
      fc.string({ unit: fc.constantFrom("a", "/", "?", "=", "&", "%", "~", " "), maxLength: 12 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
    );
    const row = fc.record({ partNumber: value, presignedUrl: value });
    const envelope = fc.record({
      success: fc.boolean(),
      messages: fc.array(value, { maxLength: 2 }),
      result: fc.record({
        requestKey: fc.string({ unit: "binary", maxLength: 8 }),
        // Mostly a valid table (one row repeated), now and then with a row of its own.
        presignedUrl: fc
          .tuple(row, row, fc.nat(TABLE_MIN_ROWS + 10), fc.boolean())
          .map(([usual, odd, at, withOdd]) =>
            Array.from({ length: TABLE_MIN_ROWS + 10 }, (_, i) => (withOdd && i === at ? odd : usual)),
          ),
        partsNumber: value,
      }),
    });
    fc.assert(
      fc.property(envelope, (payload) => {
        expect(text(serializeReply(payload))).toBe(JSON.stringify(payload));
      }),
      { numRuns: 300 },
    );
  });
});
