import { describe, expect, it } from "vitest";
import { ApiError } from "../errors/api-error";
import { checkLimits, mimeMatches } from "./check-limits";

function problemsOf(check: () => void) {
  try {
    check();
  } catch (error) {
    if (error instanceof ApiError) return error.problems.map((p) => [p.code, p.message]);
    throw error;
  }
  return [];
}

describe("checkLimits", () => {
  it("passes what is within the limits, and everything when there are none", () => {
    expect(problemsOf(() => checkLimits({}, { kind: "token" }, 10 ** 12, "x/y"))).toEqual([]);
    const limits = { maxFileSize: 100, allowedMimeTypes: ["video/*"] };
    expect(problemsOf(() => checkLimits(limits, { kind: "project", id: "p" }, 100, "video/mp4"))).toEqual([]);
  });

  it("names every problem, in the words of whose limits they are", () => {
    const limits = { maxFileSize: 100, allowedMimeTypes: ["image/png", "video/*"] };
    expect(problemsOf(() => checkLimits(limits, { kind: "project", id: "p" }, 101, "text/plain"))).toEqual([
      ["FILE_TOO_LARGE", "is 101 bytes; project p accepts at most 100"],
      ["MIME_TYPE_NOT_ALLOWED", "text/plain is not accepted by project p (allowed: image/png, video/*)"],
    ]);
    expect(problemsOf(() => checkLimits(limits, { kind: "token" }, 101, "text/plain"))).toEqual([
      ["FILE_TOO_LARGE", "is 101 bytes; this upload token allows at most 100"],
      ["MIME_TYPE_NOT_ALLOWED", "text/plain is not allowed by this upload token (allowed: image/png, video/*)"],
    ]);
  });

  it("matches MIME types exactly, by type/*, or */*, whatever their case; a prefix is not a type", () => {
    expect(mimeMatches("video/mp4", "VIDEO/MP4")).toBe(true);
    expect(mimeMatches("Video/*", "video/webm")).toBe(true);
    expect(mimeMatches("*/*", "application/x-anything")).toBe(true);
    expect(mimeMatches("video/*", "videos/mp4")).toBe(false);
    expect(mimeMatches("video/mp4", "video/mp4x")).toBe(false);
    expect(mimeMatches("image/*", "video/png")).toBe(false);
  });
});
