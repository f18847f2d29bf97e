import { describe, expect, it } from "vitest";
import { GiB, MAX_PARTS, MiB, TiB } from "./limits";
import { partSizeOf, planParts, suggestPartsNumber } from "./part-plan";

describe("planParts", () => {
  it("plans the seed's three parts: two of 5 MiB and a 1 KiB tail", () => {
    const result = planParts(10 * MiB + 1024, 3);
    expect(result).toEqual({
      ok: true,
      plan: { partSize: 5 * MiB, partsNumber: 3, lastPartSize: 1024, contentLength: 10 * MiB + 1024 },
    });
  });

  it("uses ceil(contentLength / partsNumber) when that exceeds 5 MiB", () => {
    const result = planParts(100 * MiB + 1, 10);
    expect(result.ok && result.plan.partSize).toBe(Math.ceil((100 * MiB + 1) / 10));
    expect(result.ok && result.plan.lastPartSize).toBe(100 * MiB + 1 - 9 * Math.ceil((100 * MiB + 1) / 10));
  });

  it("allows one part of any size up to 5 GiB, even a single byte", () => {
    expect(planParts(1, 1)).toMatchObject({ ok: true, plan: { partSize: 5 * MiB, lastPartSize: 1 } });
    expect(planParts(5 * GiB, 1)).toMatchObject({ ok: true, plan: { partSize: 5 * GiB, lastPartSize: 5 * GiB } });
    expect(planParts(5 * GiB + 1, 1)).toMatchObject({ ok: false, problems: [{ field: "partsNumber" }] });
  });

  it("refuses plans whose last part would be empty (too many parts)", () => {
    expect(planParts(10 * MiB, 3)).toMatchObject({ ok: false, problems: [{ field: "partsNumber" }] });
    expect(planParts(10 * MiB + 1, 3).ok).toBe(true);
  });

  it("handles the extremes: 10,000 parts and 5 TiB", () => {
    const result = planParts(5 * TiB, MAX_PARTS);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.plan.partSize).toBe(Math.ceil((5 * TiB) / MAX_PARTS));
    expect(result.plan.partSize * (MAX_PARTS - 1) + result.plan.lastPartSize).toBe(5 * TiB);
    expect(planParts(5 * TiB + 1, MAX_PARTS).ok).toBe(false);
    expect(planParts(100, MAX_PARTS + 1)).toMatchObject({ ok: false, problems: [{ field: "partsNumber" }] });
    // One part too many, each of them large enough: refused for their number alone (S3 takes at most 10,000).
    expect(planParts((MAX_PARTS + 1) * 5 * MiB, MAX_PARTS + 1)).toMatchObject({
      ok: false,
      problems: [{ field: "partsNumber", message: `must be an integer from 1 to ${MAX_PARTS}` }],
    });
  });

  it("reports both fields when both are out of range", () => {
    expect(planParts(0, 0)).toMatchObject({
      ok: false,
      problems: [{ field: "partsNumber" }, { field: "contentLength" }],
    });
  });

  it("always sums to contentLength with every part in 1..5 GiB and all but the last >= 5 MiB", () => {
    for (const [length, parts] of [
      [5 * MiB * 7 + 3, 8],
      [123_456_789, 20],
      [999 * 5 * MiB, 999],
      [3 * GiB + 7, 1],
    ] as const) {
      const result = planParts(length, parts);
      expect(result.ok).toBe(true);
      if (!result.ok) continue;
      let sum = 0;
      for (let n = 1; n <= parts; n++) {
        const size = partSizeOf(result.plan, n);
        expect(size).toBeGreaterThanOrEqual(n === parts ? 1 : 5 * MiB);
        expect(size).toBeLessThanOrEqual(5 * GiB);
        sum += size;
      }
      expect(sum).toBe(length);
    }
  });
});

describe("suggestPartsNumber", () => {
  it("aims at 16 MiB parts and always yields a valid plan", () => {
    expect(suggestPartsNumber(1)).toBe(1);
    expect(suggestPartsNumber(64 * MiB)).toBe(4);
    for (const length of [1, 5 * MiB, 16 * MiB + 1, 10 * GiB, 5 * TiB]) {
      expect(planParts(length, suggestPartsNumber(length)).ok).toBe(true);
    }
    expect(suggestPartsNumber(5 * TiB)).toBe(MAX_PARTS);
  });
});
