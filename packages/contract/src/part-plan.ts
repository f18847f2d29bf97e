import { MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MiB, MIN_PART_SIZE } from "./limits";

export interface PartPlan {
  /** Size of every part but the last. */
  partSize: number;
  partsNumber: number;
  /** Size of the last part (1..partSize). */
  lastPartSize: number;
  contentLength: number;
}

export type PartPlanProblem = { field: "partsNumber"; message: string } | { field: "contentLength"; message: string };

/**
 * The server's plan for `contentLength` bytes in `partsNumber` parts: every part but the last is exactly
 * `partSize = max(5 MiB, ceil(contentLength / partsNumber))`. A plan exists only when
 * `(partsNumber - 1) × 5 MiB < contentLength ≤ partsNumber × 5 GiB`, i.e. when every part can be non-empty and no part
 * exceeds S3's maximum. Returns the problems instead when there is no plan.
 */
export function planParts(
  contentLength: number,
  partsNumber: number,
): { ok: true; plan: PartPlan } | { ok: false; problems: PartPlanProblem[] } {
  const problems: PartPlanProblem[] = [];
  if (!Number.isSafeInteger(partsNumber) || partsNumber < 1 || partsNumber > MAX_PARTS) {
    problems.push({ field: "partsNumber", message: `must be an integer from 1 to ${MAX_PARTS}` });
  }
  if (!Number.isSafeInteger(contentLength) || contentLength < 1 || contentLength > MAX_OBJECT_SIZE) {
    problems.push({ field: "contentLength", message: `must be from 1 to ${MAX_OBJECT_SIZE} bytes (5 TiB)` });
  }
  if (problems.length > 0) return { ok: false, problems };

  if (contentLength <= (partsNumber - 1) * MIN_PART_SIZE) {
    const most = Math.max(1, Math.ceil(contentLength / MIN_PART_SIZE));
    problems.push({
      field: "partsNumber",
      message: `${partsNumber} parts is too many for ${contentLength} bytes: every part but the last must be at least ${MIN_PART_SIZE} bytes (5 MiB), so use at most ${most}`,
    });
  } else if (contentLength > partsNumber * MAX_PART_SIZE) {
    const fewest = Math.ceil(contentLength / MAX_PART_SIZE);
    problems.push({
      field: "partsNumber",
      message: `${partsNumber} parts is too few for ${contentLength} bytes: no part may exceed ${MAX_PART_SIZE} bytes (5 GiB), so use at least ${fewest}`,
    });
  }
  if (problems.length > 0) return { ok: false, problems };

  const partSize = Math.max(MIN_PART_SIZE, Math.ceil(contentLength / partsNumber));
  const lastPartSize = contentLength - (partsNumber - 1) * partSize;
  return { ok: true, plan: { partSize, partsNumber, lastPartSize, contentLength } };
}

/** Size of part `partNumber` (1-based) in `plan`. */
export function partSizeOf(plan: PartPlan, partNumber: number): number {
  return partNumber === plan.partsNumber ? plan.lastPartSize : plan.partSize;
}

/** A sensible number of parts for `contentLength` bytes when the caller has no preference: parts of ~`target` bytes. */
export function suggestPartsNumber(contentLength: number, target = 16 * MiB): number {
  const byTarget = Math.ceil(contentLength / target);
  const atLeast = Math.ceil(contentLength / MAX_PART_SIZE);
  return Math.min(MAX_PARTS, Math.max(1, byTarget, atLeast));
}
