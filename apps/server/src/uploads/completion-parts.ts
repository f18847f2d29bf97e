import { partSizeOf, type CompleteUploadBody, type ErrorProblem, type StoredPart } from "@upload-gateway/contract";
import { ApiError } from "../errors/api-error";
import { unquoteETag } from "../storage/etag";
import type { CompletedPart, StoredPartInfo } from "../storage/storage.port";
import { planOf, type UploadRecord } from "./upload-record";

type RequestedParts = CompleteUploadBody["parts"];

/**
 * Checks the parts of a complete request against the store's listing and the plan: each part listed once, every part
 * of the plan listed, each stored with the listed eTag and the planned size, and all of them together exactly
 * `contentLength`. Returns the parts to complete with, ascending, with the store's eTags.
 */
export function completableParts(
  record: UploadRecord,
  requested: RequestedParts,
  stored: StoredPartInfo[],
): CompletedPart[] {
  const listed = checkListedParts(record, requested);
  const storedByNumber = new Map(stored.map((p) => [p.partNumber, p]));
  const plan = planOf(record);
  const problems: ErrorProblem[] = [];
  requested.forEach((part, index) => {
    const field = `parts.${index}`;
    const found = storedByNumber.get(part.partNumber);
    const planned = partSizeOf(plan, part.partNumber);
    if (!found) {
      problems.push({ code: "INVALID_PART", field, message: `part ${part.partNumber} is not stored; upload it first` });
    } else if (unquoteETag(found.eTag) !== unquoteETag(part.eTag)) {
      problems.push({
        code: "INVALID_PART",
        field: `${field}.eTag`,
        message: `does not match the stored part ${part.partNumber} (expected ${found.eTag})`,
      });
    } else if (found.size !== planned) {
      problems.push({
        code: "PART_SIZE_MISMATCH",
        field,
        message: `part ${part.partNumber} is ${found.size} bytes but the plan says ${planned}; upload it again`,
      });
    }
  });
  if (problems.length > 0) throw new ApiError(problems[0]!, ...problems.slice(1));
  const total = listed.reduce((sum, p) => sum + storedByNumber.get(p.partNumber)!.size, 0);
  if (total !== record.contentLength) {
    // Unreachable while every part has its planned size; kept so that a wrong plan can never complete either.
    throw new ApiError({
      code: "PART_SIZE_MISMATCH",
      field: "parts",
      message: `the parts add up to ${total} bytes but the upload is ${record.contentLength}`,
    });
  }
  return listed.map((p) => ({ partNumber: p.partNumber, eTag: storedByNumber.get(p.partNumber)!.eTag }));
}

/** Checks the listed parts against the plan: each part once, every part present. Returns them in ascending order. */
export function checkListedParts(record: UploadRecord, parts: RequestedParts): RequestedParts {
  const problems: ErrorProblem[] = [];
  const seen = new Set<number>();
  parts.forEach((part, index) => {
    if (part.partNumber > record.partsNumber) {
      problems.push({
        code: "VALIDATION_FAILED",
        field: `parts.${index}.partNumber`,
        message: `is ${part.partNumber} but the upload has only ${record.partsNumber} parts`,
      });
    } else if (seen.has(part.partNumber)) {
      problems.push({
        code: "VALIDATION_FAILED",
        field: `parts.${index}.partNumber`,
        message: `part ${part.partNumber} is listed twice`,
      });
    }
    seen.add(part.partNumber);
  });
  const missing: number[] = [];
  for (let n = 1; n <= record.partsNumber; n++) if (!seen.has(n)) missing.push(n);
  if (missing.length > 0) {
    const shown =
      missing.length > 10 ? `${missing.slice(0, 10).join(", ")} and ${missing.length - 10} more` : missing.join(", ");
    problems.push({
      code: "VALIDATION_FAILED",
      field: "parts",
      message: `must list every part of the upload (1 to ${record.partsNumber}); missing ${shown}`,
    });
  }
  if (problems.length > 0) throw new ApiError(problems[0]!, ...problems.slice(1));
  return [...parts].sort((a, b) => a.partNumber - b.partNumber);
}

/** Stored parts that count as uploaded: those in the plan with the plan's size (others must be sent again). */
export function usableParts(record: UploadRecord, stored: StoredPartInfo[]): StoredPart[] {
  const plan = planOf(record);
  return stored.filter((p) => p.partNumber <= record.partsNumber && p.size === partSizeOf(plan, p.partNumber));
}

/** A client's parts with their eTags quoted the way stores list them. */
export function quotedParts(parts: RequestedParts): CompletedPart[] {
  return [...parts]
    .sort((a, b) => a.partNumber - b.partNumber)
    .map((p) => ({ partNumber: p.partNumber, eTag: `"${unquoteETag(p.eTag)}"` }));
}
