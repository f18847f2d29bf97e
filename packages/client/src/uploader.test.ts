import { MiB } from "@upload-gateway/contract";
import { describe, expect, it } from "vitest";
import { planForUpload } from "./uploader";

describe("planForUpload", () => {
  it("uses about 16 MiB parts by default and about the size asked for otherwise, as the server plans them", () => {
    expect(planForUpload(64 * MiB)).toMatchObject({ partSize: 16 * MiB, partsNumber: 4 });
    // 9 parts of at most 8 MiB; the server's plan spreads the bytes evenly: ceil(size / 9) each but the last.
    const size = 64 * MiB + 1;
    const partSize = Math.ceil(size / 9);
    expect(planForUpload(size, 8 * MiB)).toMatchObject({ partSize, partsNumber: 9, lastPartSize: size - 8 * partSize });
    expect(planForUpload(1)).toMatchObject({ partsNumber: 1, lastPartSize: 1 });
  });

  it("grows parts beyond the asked size so a huge file fits in 10,000 parts", () => {
    const plan = planForUpload(1024 ** 4, 5 * MiB);
    expect(plan.partsNumber).toBe(10_000);
    expect(plan.partSize).toBeGreaterThan(100 * MiB);
  });

  it("refuses parts under 5 MiB", () => {
    expect(() => planForUpload(100 * MiB, 1 * MiB)).toThrow(/at least 5242880/);
  });
});
