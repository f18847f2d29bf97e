import { MAX_PARTS, MiB, MIN_PART_SIZE, planParts, type PartPlan } from "@upload-gateway/contract";

export const DEFAULT_PART_SIZE = 16 * MiB;

/** The part plan for a file of `size` bytes at `partSize` bytes a part, within S3's limits. */
export function planForUpload(size: number, partSize = DEFAULT_PART_SIZE): PartPlan {
  if (partSize < MIN_PART_SIZE) throw new RangeError(`partSize must be at least ${MIN_PART_SIZE} bytes (5 MiB)`);
  const partsNumber = Math.min(MAX_PARTS, Math.max(1, Math.ceil(size / partSize)));
  const planned = planParts(size, partsNumber);
  if (!planned.ok) throw new RangeError(planned.problems.map((p) => `${p.field}: ${p.message}`).join("; "));
  return planned.plan;
}

/** The plan of a file sent whole with one PUT. */
export function onePartPlan(size: number): PartPlan {
  return { partSize: size, partsNumber: 1, contentLength: size, lastPartSize: size };
}
