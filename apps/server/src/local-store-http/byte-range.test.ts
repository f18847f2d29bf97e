import { describe, expect, it } from "vitest";
import { parseRange } from "./byte-range";

describe("parseRange", () => {
  it.each([
    [undefined, 100, undefined],
    ["bytes=0-9", 100, { start: 0, end: 9 }],
    ["bytes=90-", 100, { start: 90, end: 99 }],
    ["bytes=-10", 100, { start: 90, end: 99 }],
    ["bytes=50-500", 100, { start: 50, end: 99 }],
    ["bytes=100-", 100, "unsatisfiable"],
    ["bytes=9-3", 100, "unsatisfiable"],
    ["bytes=0-1,5-6", 100, undefined],
    ["items=0-1", 100, undefined],
    // Past the 32-bit marks (issue 25): offsets are plain numbers, exact up to 5 TiB.
    ["bytes=4294967290-4294967305", 4 * 1024 ** 3 + 5 * 1024 ** 2 + 3, { start: 4294967290, end: 4294967305 }],
    ["bytes=-3", 5 * 1024 ** 3 + 3, { start: 5368709120, end: 5368709122 }],
    ["bytes=5497558138879-", 5 * 1024 ** 4, { start: 5497558138879, end: 5497558138879 }],
    ["bytes=5497558138880-", 5 * 1024 ** 4, "unsatisfiable"],
  ])("%s of %i bytes → %j", (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});
