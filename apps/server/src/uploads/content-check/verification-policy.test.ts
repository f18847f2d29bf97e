import { describe, expect, it } from "vitest";
import type { ContentInspection } from "../../verification/content-inspector";
import type { MediaFacts } from "../../verification/media-probe";
import { typesAgree, unsafeInline } from "./type-families";
import { judgeContent, type ContentRules, type NamedScan } from "./verification-policy";

const VIDEO: MediaFacts = {
  container: "mp4",
  durationSeconds: 2,
  width: 160,
  height: 120,
  frameRate: 15,
  videoCodec: "h264",
  audioCodec: "aac",
  bitRate: 130_000,
};
const AUDIO: MediaFacts = { ...VIDEO, width: null, height: null, frameRate: null, videoCodec: null };

function found(detectedMimeType: string, extra: Partial<ContentInspection> = {}): ContentInspection {
  return { detectedMimeType, anomalies: [], read: { requests: 1, bytes: 100 }, ...extra };
}

function judge(
  rules: ContentRules,
  declared: string,
  inspection: ContentInspection,
  more: { sha256?: string; scans?: NamedScan[] } = {},
) {
  return judgeContent(rules, { declaredMimeType: declared, inspection, sha256: more.sha256, scans: more.scans ?? [] });
}

const videoProject: ContentRules = { allowedMimeTypes: ["video/*"] };

describe("judgeContent", () => {
  it("passes real video in a video project, with the facts", () => {
    const verdict = judge(videoProject, "video/mp4", found("video/mp4", { media: VIDEO }));
    expect(verdict).toEqual({
      outcome: "passed",
      verification: { state: "passed", detectedMimeType: "video/mp4", media: VIDEO },
    });
  });

  it.each([
    ["text/html", "TYPE_MISMATCH", "declared video/mp4, found an HTML page (text/html)"],
    ["image/svg+xml", "TYPE_MISMATCH", "declared video/mp4, found an SVG image (image/svg+xml)"],
    ["application/x-elf", "TYPE_MISMATCH", "declared video/mp4, found a program (ELF) (application/x-elf)"],
    ["application/zip", "TYPE_MISMATCH", "declared video/mp4, found a ZIP archive (application/zip)"],
    ["application/x-empty", "TYPE_MISMATCH", "declared video/mp4, found an empty file (application/x-empty)"],
    ["application/octet-stream", "TYPE_MISMATCH", "declared video/mp4, found data of no known type"],
  ])("refuses %s declared video/mp4 in a video project: %s", (detected, code, reason) => {
    const verdict = judge(videoProject, "video/mp4", found(detected));
    expect(verdict.outcome).toBe("failed");
    if (verdict.outcome !== "failed") return;
    expect(verdict.verification).toMatchObject({ state: "failed", code, detectedMimeType: detected });
    expect(verdict.verification.reason).toContain(reason);
  });

  it("judges the detected type by the allowlists, the project's and the token's", () => {
    const html = judge(videoProject, "application/octet-stream", found("text/html"));
    expect(html).toMatchObject({ verification: { code: "TYPE_NOT_ALLOWED" } });
    const token = judge({ tokenAllowedMimeTypes: ["audio/*"] }, "video/mp4", found("video/mp4", { media: VIDEO }));
    expect(token).toMatchObject({ verification: { code: "TYPE_NOT_ALLOWED" } });
    expect((token as { verification: { reason: string } }).verification.reason).toContain("the upload token");
  });

  it("judges the declared type of plain text or signature-less bytes it agrees with", () => {
    expect(judge({ allowedMimeTypes: ["application/json"] }, "application/json", found("text/plain")).outcome).toBe(
      "passed",
    );
    expect(judge({ allowedMimeTypes: ["text/csv"] }, "text/html", found("text/plain"))).toMatchObject({
      verification: { code: "TYPE_MISMATCH" },
    });
    expect(judge({ allowedMimeTypes: ["application/json"] }, "application/json", found("text/html"))).toMatchObject({
      verification: { code: "TYPE_MISMATCH" },
    });
  });

  it("takes a container's other names for the same container, of the same kind", () => {
    const mov = judge({ allowedMimeTypes: ["video/mp4"] }, "video/mp4", found("video/quicktime", { media: VIDEO }));
    expect(mov.outcome).toBe("passed");
    const m4a = judge({ allowedMimeTypes: ["audio/mp4"] }, "audio/mp4", found("audio/x-m4a", { media: AUDIO }));
    expect(m4a.outcome).toBe("passed");
    const m4aAsVideo = judge({ allowedMimeTypes: ["video/mp4"] }, "video/mp4", found("audio/x-m4a", { media: AUDIO }));
    expect(m4aAsVideo).toMatchObject({ verification: { code: "TYPE_NOT_ALLOWED" } });
  });

  it("without allowedMimeTypes or requireMedia, records the detected type and passes any type but a disguise", () => {
    expect(judge({}, "video/mp4", found("application/octet-stream"))).toMatchObject({
      outcome: "passed",
      verification: { detectedMimeType: "application/octet-stream" },
    });
    expect(judge({}, "video/mp4", found("application/zip")).outcome).toBe("passed");
    expect(judge({}, "text/html", found("text/html")).outcome).toBe("passed");
    expect(judge({}, "application/xml", found("image/svg+xml")).outcome).toBe("passed");
  });

  it.each(["text/html", "image/svg+xml", "text/javascript", "application/xml"])(
    "refuses %s declared video/mp4 whatever the project: markup or script in disguise",
    (detected) => {
      expect(judge({}, "video/mp4", found(detected))).toMatchObject({
        outcome: "failed",
        verification: { code: "TYPE_MISMATCH", detectedMimeType: detected },
      });
    },
  );

  it("refuses anomalies whatever the project", () => {
    for (const anomaly of ["embedded-markup", "trailing-archive", "truncated", "implausible-duration"] as const) {
      const verdict = judge({}, "video/mp4", found("video/mp4", { media: VIDEO, anomalies: [anomaly] }));
      expect(verdict).toMatchObject({ outcome: "failed", verification: { code: "SUSPICIOUS_CONTENT" } });
    }
  });

  it("requireMedia: decodable audio or video of the declared kind", () => {
    const rules: ContentRules = { requireMedia: true };
    expect(judge(rules, "video/mp4", found("video/mp4", { media: VIDEO })).outcome).toBe("passed");
    expect(judge(rules, "video/mp4", found("video/mp4", { mediaProblem: "undecodable" }))).toMatchObject({
      verification: { code: "NOT_MEDIA" },
    });
    expect(judge(rules, "video/mp4", found("video/mp4", { media: AUDIO }))).toMatchObject({
      verification: { code: "NOT_MEDIA", reason: expect.stringContaining("without a video track") as string },
    });
    expect(judge(rules, "application/pdf", found("application/pdf"))).toMatchObject({
      verification: { code: "NOT_MEDIA" },
    });
    expect(judge(rules, "audio/mp4", found("audio/x-m4a", { media: AUDIO })).outcome).toBe("passed");
  });

  it("maxDurationSeconds: longer media refused, unknown duration refused, other types untouched", () => {
    const rules: ContentRules = { maxDurationSeconds: 60 };
    const long = judge(rules, "video/mp4", found("video/mp4", { media: { ...VIDEO, durationSeconds: 36_000 } }));
    expect(long).toMatchObject({
      verification: { code: "DURATION_TOO_LONG", reason: "the media lasts 36000 s, longer than the 60 s allowed" },
    });
    const unknown = judge(rules, "video/mp4", found("video/mp4", { media: { ...VIDEO, durationSeconds: null } }));
    expect(unknown).toMatchObject({ verification: { code: "NOT_MEDIA" } });
    expect(judge(rules, "application/pdf", found("application/pdf")).outcome).toBe("passed");
  });

  it("verifyFileHash: the computed SHA-256 must be the start's fileHash", () => {
    const sha = "a".repeat(64);
    const rules: ContentRules = { verifyFileHash: true, expectedSha256: sha.toUpperCase() };
    expect(judge(rules, "x/y", found("application/octet-stream"), { sha256: sha })).toMatchObject({
      outcome: "passed",
      verification: { sha256: sha },
    });
    expect(judge(rules, "x/y", found("application/octet-stream"), { sha256: "b".repeat(64) })).toMatchObject({
      verification: { code: "HASH_MISMATCH" },
    });
  });

  it("scanners: infected and rejected refuse, an error is never a pass", () => {
    const clean = { scanner: "a", verdict: "clean" } as const;
    expect(judge({}, "x/y", found("text/plain"), { scans: [clean] }).outcome).toBe("passed");
    expect(
      judge({}, "x/y", found("text/plain"), {
        scans: [clean, { scanner: "clamav", verdict: "infected", signature: "Eicar" }],
      }),
    ).toMatchObject({ verification: { code: "MALWARE_FOUND", reason: "clamav found Eicar" } });
    expect(
      judge({}, "x/y", found("text/plain"), { scans: [{ scanner: "c", verdict: "rejected", message: "nope" }] }),
    ).toMatchObject({
      verification: { code: "SCANNER_REJECTED" },
    });
    expect(
      judge({}, "x/y", found("text/plain"), { scans: [{ scanner: "c", verdict: "error", message: "down" }] }),
    ).toEqual({
      outcome: "retry",
      why: "c could not decide: down",
    });
  });
});

describe("typesAgree and unsafeInline", () => {
  it.each([
    ["video/mp4", "video/mp4", true],
    ["video/mp4", "video/quicktime", true],
    ["audio/mp4", "audio/x-m4a", true],
    ["application/octet-stream", "text/html", true],
    ["text/csv", "text/plain", true],
    ["application/json", "text/plain", true],
    ["text/plain", "text/html", false],
    ["text/csv", "image/svg+xml", false],
    ["application/x-custom", "application/octet-stream", true],
    ["image/png", "application/octet-stream", false],
    ["video/mp4", "text/plain", false],
    ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip", true],
  ])("declared %s, detected %s: %s", (declared, detected, agree) => {
    expect(typesAgree(declared, detected)).toBe(agree);
  });

  it("serves markup, script and text as bytes", () => {
    for (const type of [
      "text/html",
      "image/svg+xml",
      "application/xml",
      "text/javascript",
      "text/plain; charset=utf-8",
      "application/xhtml+xml",
    ]) {
      expect(unsafeInline(type)).toBe(true);
    }
    for (const type of ["video/mp4", "image/png", "application/pdf"]) expect(unsafeInline(type)).toBe(false);
  });
});
