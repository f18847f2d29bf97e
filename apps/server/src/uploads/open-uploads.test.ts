import { describe, expect, it } from "vitest";
import { freePlace } from "./open-uploads";

describe("freePlace", () => {
  it("picks only free places, in a sparse and in a nearly full project, and every free one in time", () => {
    const limit = 1_000;
    const sparse = new Set(Array.from({ length: 400 }, (_, i) => i * 2)); // random picks
    const full = new Set(Array.from({ length: limit - 3 }, (_, i) => i + 3)); // the walk: 0, 1 and 2 free
    for (const taken of [sparse, full]) {
      const picked = new Set<number>();
      for (let i = 0; i < 2_000; i++) {
        const slot = freePlace(taken, limit);
        expect(taken.has(slot)).toBe(false);
        expect(slot >= 0 && slot < limit).toBe(true);
        picked.add(slot);
      }
      if (taken === full) expect([...picked].sort()).toEqual([0, 1, 2]);
      else expect(picked.size).toBeGreaterThan(500); // 600 free places, 2,000 picks: ~577 distinct expected
    }
  });

  it("finds the one free place of a huge limit", () => {
    const limit = 100_000;
    const taken = new Set(Array.from({ length: limit }, (_, i) => i));
    taken.delete(77_777);
    expect(freePlace(taken, limit)).toBe(77_777);
  });
});
