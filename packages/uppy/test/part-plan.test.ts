import { MiB, planParts } from "@upload-gateway/contract";
import { describe, expect, it } from "vitest";
import { uppyChunkCount, uppyPartPlan } from "../src/part-plan";

describe("uppyPartPlan", () => {
  it("is the gateway's plan, and Uppy cuts the file into exactly its parts", () => {
    const sizes = [
      5 * MiB + 1,
      12 * MiB,
      16 * MiB,
      16 * MiB + 1,
      100 * MiB - 3,
      256 * MiB,
      1024 * 1024 * MiB + 7,
      5 * 1024 ** 4,
    ];
    for (const size of sizes) {
      for (const largest of [5 * MiB, 8 * MiB, 16 * MiB, 100 * MiB]) {
        const plan = uppyPartPlan(size, largest);
        const gateway = planParts(size, plan.partsNumber);
        expect(gateway.ok && gateway.plan).toEqual(plan);
        expect(uppyChunkCount(size, plan.partSize)).toBe(plan.partsNumber);
        expect(plan.partsNumber).toBeLessThanOrEqual(10_000);
      }
    }
  });

  it("uses 8 MiB parts for 256 MiB at 8 MiB (the benchmark's plan)", () => {
    expect(uppyPartPlan(256 * MiB, 8 * MiB)).toMatchObject({
      partsNumber: 32,
      partSize: 8 * MiB,
      lastPartSize: 8 * MiB,
    });
  });
});
