import { MAX_PARTS, MiB, planParts, type PartPlan } from "@upload-gateway/contract";

/** Uppy's own floor for a part (its chunks are never smaller), the same as S3's. */
const UPPY_MIN_CHUNK = 5 * MiB;

/** How Uppy 5's @uppy/aws-s3 cuts a file of `size` bytes for a chunk size: chunks of `chunkSize`, the rest last. */
export function uppyChunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / Math.max(chunkSize, UPPY_MIN_CHUNK));
}

/**
 * The gateway's part plan for a file, as Uppy must cut it.
 *
 * The gateway plans `partSize = max(5 MiB, ceil(size / partsNumber))` (`planParts`) and refuses a complete whose parts
 * differ from the plan (PART_SIZE_MISMATCH); Uppy cuts chunks of `getChunkSize()` bytes from the start. They agree when
 * the chunk size is the planned part size and it cuts the file into `partsNumber` pieces. With parts of 5 MiB or more
 * the first count tried always does; the check keeps it so should the plan's rule change.
 */
export function uppyPartPlan(size: number, largestPart: number): PartPlan {
  for (let parts = Math.min(MAX_PARTS, Math.max(1, Math.ceil(size / largestPart))); parts >= 1; parts--) {
    const planned = planParts(size, parts);
    if (planned.ok && uppyChunkCount(size, planned.plan.partSize) === parts) return planned.plan;
  }
  throw new RangeError(`No part plan fits a file of ${size} bytes`);
}
