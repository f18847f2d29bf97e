import type { ErrorProblem } from "@upload-gateway/contract";
import { ApiError } from "../errors/api-error";

/** What a project, or an upload token within it, accepts. */
export interface UploadLimits {
  maxFileSize?: number | undefined;
  allowedMimeTypes?: readonly string[] | undefined;
}

/** Whose limits they are, as the messages name it. */
export type LimitsOwner = { kind: "project"; id: string } | { kind: "token" };

/**
 * Checks a start against a set of limits: the project's, then an upload token's (a token can only narrow the
 * project's). Every problem at once: 413 `FILE_TOO_LARGE` and 415 `MIME_TYPE_NOT_ALLOWED`, the first one's status
 * answered.
 */
export function checkLimits(limits: UploadLimits, owner: LimitsOwner, contentLength: number, mimeType: string): void {
  const { maxFileSize, allowedMimeTypes } = limits;
  const [who, accepts, accepted] =
    owner.kind === "project"
      ? [`project ${owner.id}`, "accepts", "accepted"]
      : ["this upload token", "allows", "allowed"];
  const problems: ErrorProblem[] = [];
  if (maxFileSize !== undefined && contentLength > maxFileSize) {
    problems.push({
      code: "FILE_TOO_LARGE",
      field: "contentLength",
      message: `is ${contentLength} bytes; ${who} ${accepts} at most ${maxFileSize}`,
    });
  }
  if (allowedMimeTypes && !allowedMimeTypes.some((allowed) => mimeMatches(allowed, mimeType))) {
    problems.push({
      code: "MIME_TYPE_NOT_ALLOWED",
      field: "mimeType",
      message: `${mimeType} is not ${accepted} by ${who} (allowed: ${allowedMimeTypes.join(", ")})`,
    });
  }
  if (problems.length > 0) throw new ApiError(problems[0]!, ...problems.slice(1));
}

/** Whether `mimeType` is one `allowed` names: itself, `type/*`, or `*` `/*` (any); case-insensitively. */
export function mimeMatches(allowed: string, mimeType: string): boolean {
  const a = allowed.toLowerCase();
  const m = mimeType.toLowerCase();
  return a === "*/*" || a === m || (a.endsWith("/*") && m.startsWith(a.slice(0, -1)));
}
