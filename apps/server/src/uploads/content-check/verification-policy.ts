import type { Verification, VerificationFailureCode } from "@upload-gateway/contract";
import type { ContentInspection } from "../../verification/content-inspector";
import type { ScanResult } from "../../verification/scanner";
import { allowedByName, describeType, essence, isActiveType, isMediaType, typesAgree } from "./type-families";

/**
 * The rules an upload's bytes are judged by: the project's (and the module's defaults) and its upload token's, as they
 * were when it started (kept in its record, so that a replica judging it later needs no project lookup).
 */
export interface ContentRules {
  /** The project's `allowedMimeTypes`, applied to the detected type. */
  allowedMimeTypes?: string[] | undefined;
  /** The upload token's `allowedMimeTypes`, applied to the detected type as well. */
  tokenAllowedMimeTypes?: string[] | undefined;
  /** The smallest of the project's and the token's `maxDurationSeconds`. */
  maxDurationSeconds?: number | undefined;
  /** The project's or the token's `requireMedia`. */
  requireMedia?: boolean | undefined;
  /** The project's `verifyFileHash`: the whole object is read and its SHA-256 compared with the start's `fileHash`. */
  verifyFileHash?: boolean | undefined;
  /** The project's `quarantine`: a rejected object is kept (and listed) instead of deleted. */
  quarantine?: boolean | undefined;
  /** The start's `fileHash` (SHA-256 hex), kept when `verifyFileHash` is on. */
  expectedSha256?: string | undefined;
}

/** One scanner's verdict, named. */
export interface NamedScan extends ScanResult {
  scanner: string;
}

/** Everything found of the stored bytes that the policy judges. */
export interface Findings {
  declaredMimeType: string;
  inspection: ContentInspection;
  /** The SHA-256 (hex) of the whole object, when `verifyFileHash` asked for it. */
  sha256?: string | undefined;
  scans: NamedScan[];
}

/**
 * The verdict: `passed` or `failed` (a verification to record), or `retry`: something could not decide (a scanner's
 * `error`), which is never a pass.
 */
export type Judgement =
  { outcome: "passed" | "failed"; verification: Verification } | { outcome: "retry"; why: string };

/**
 * Judges what was found in an upload's stored bytes against its rules. Always, whatever the project:
 * - a whole-file hash that differs from the start's `fileHash` (with `verifyFileHash`): HASH_MISMATCH;
 * - a scanner's `infected`: MALWARE_FOUND; its `rejected`: SCANNER_REJECTED; its `error`: retry, never a pass;
 * - anomalies (markup in a non-text file, an archive appended, a cut or forged index): SUSPICIOUS_CONTENT.
 * - markup or script (HTML, SVG, XML, JavaScript, shell) declared as a type that is neither: TYPE_MISMATCH.
 * Only for a project or token that restricts types (`allowedMimeTypes` or `requireMedia`), since without them any
 * other bytes under any declared type are accepted, as before the check existed:
 * - a declared type that disagrees with the detected one (see `typesAgree`): TYPE_MISMATCH;
 * - a detected type outside the project's or the token's `allowedMimeTypes`: TYPE_NOT_ALLOWED (for plain text or
 *   bytes without a signature, the declared type they agree with: `application/json` found as `text/plain`);
 * - audio or video that is not a decodable container (of the kind the declared type names, with `requireMedia`):
 *   NOT_MEDIA.
 * And for audio and video under `maxDurationSeconds`: longer, DURATION_TOO_LONG; no duration to read, NOT_MEDIA.
 */
export function judgeContent(rules: ContentRules, findings: Findings): Judgement {
  const { inspection, sha256 } = findings;
  const found: Verification = {
    state: "passed",
    detectedMimeType: inspection.detectedMimeType,
    ...(inspection.media ? { media: inspection.media } : {}),
    ...(sha256 ? { sha256 } : {}),
  };
  const fail = (code: VerificationFailureCode, reason: string): Judgement => ({
    outcome: "failed",
    verification: { ...found, state: "failed", code, reason },
  });
  const declared = essence(findings.declaredMimeType);
  const detected = inspection.detectedMimeType;

  if (rules.verifyFileHash && rules.expectedSha256 !== undefined && sha256 !== undefined) {
    if (rules.expectedSha256.toLowerCase() !== sha256) {
      return fail(
        "HASH_MISMATCH",
        `the start's fileHash is ${rules.expectedSha256.slice(0, 80)}, the stored bytes' SHA-256 is ${sha256}`,
      );
    }
  }
  for (const scan of findings.scans) {
    const said = scan.signature ?? scan.message;
    if (scan.verdict === "infected") return fail("MALWARE_FOUND", `${scan.scanner} found ${said ?? "malware"}`);
    if (scan.verdict === "rejected")
      return fail("SCANNER_REJECTED", `${scan.scanner} refused it${said ? `: ${said}` : ""}`);
  }
  const undecided = findings.scans.find((scan) => scan.verdict !== "clean");
  if (undecided)
    return { outcome: "retry", why: `${undecided.scanner} could not decide: ${undecided.message ?? "error"}` };

  const restricted =
    rules.allowedMimeTypes !== undefined || rules.tokenAllowedMimeTypes !== undefined || rules.requireMedia === true;
  // Markup or script under another type's name is a disguise whatever the project allows: a page or a script handed
  // out as a video is how stored content gets run in someone's browser.
  const disguised = isActiveType(detected) && !isActiveType(declared);
  if ((restricted || disguised) && !typesAgree(declared, detected)) {
    return fail("TYPE_MISMATCH", `declared ${declared}, found ${describeType(detected)}`);
  }
  // Text and signature-less bytes say no more than "text" or "bytes": the declared type they agree with is judged.
  const judged = GENERIC.has(detected) && typesAgree(declared, detected) ? declared : detected;
  for (const [allowed, whose] of [
    [rules.allowedMimeTypes, "the project"],
    [rules.tokenAllowedMimeTypes, "the upload token"],
  ] as const) {
    if (allowed && !allowed.some((type) => allowedByName(type, judged))) {
      return fail(
        "TYPE_NOT_ALLOWED",
        `declared ${declared}, found ${describeType(detected)}, which ${whose} does not accept (${allowed.join(", ")})`,
      );
    }
  }
  if (restricted) {
    const notMedia = mediaProblem(rules, declared, inspection);
    if (notMedia) return fail("NOT_MEDIA", `declared ${declared}, found ${notMedia}`);
  }
  if (inspection.anomalies.length > 0) {
    const what = inspection.anomalies.map((anomaly) => ANOMALY_WORDS[anomaly]).join("; ");
    return fail("SUSPICIOUS_CONTENT", `declared ${declared}, found ${describeType(detected)} that ${what}`);
  }
  if (rules.maxDurationSeconds !== undefined && isMediaType(detected)) {
    const seconds = inspection.media?.durationSeconds ?? null;
    if (seconds === null)
      return fail("NOT_MEDIA", `declared ${declared}, found ${describeType(detected)} whose duration cannot be read`);
    if (seconds > rules.maxDurationSeconds) {
      return fail(
        "DURATION_TOO_LONG",
        `the media lasts ${round(seconds)} s, longer than the ${rules.maxDurationSeconds} s allowed`,
      );
    }
  }
  return { outcome: "passed", verification: found };
}

/** Detected types that name no format: plain text, and bytes without a signature. */
const GENERIC = new Set(["text/plain", "application/octet-stream"]);

const ANOMALY_WORDS: Record<ContentInspection["anomalies"][number], string> = {
  "embedded-markup": "carries HTML or script inside",
  "trailing-archive": "has an archive appended",
  truncated: "is cut short (its container claims more bytes than were stored)",
  "implausible-duration": "claims a duration its size cannot hold",
};

/**
 * Why the bytes are not the media the rules want, or undefined: audio or video detected without readable media (or,
 * with `requireMedia`, anything but audio or video, or media without a track of the kind the declared or allowed
 * types name: a video project wants a video track).
 */
function mediaProblem(rules: ContentRules, declared: string, inspection: ContentInspection): string | undefined {
  const detected = inspection.detectedMimeType;
  const what = describeType(detected);
  if (isMediaType(detected) && !inspection.media) {
    return inspection.mediaProblem === "limit"
      ? `${what} whose index could not be read within the inspection's read limit`
      : `${what} that no media parser can decode`;
  }
  if (!rules.requireMedia) return undefined;
  if (!inspection.media) return `${what}, not audio or video`;
  const kind = wantedKind(rules, declared);
  if (kind === "video" && inspection.media.videoCodec === null) return `${what} without a video track`;
  if (kind === "audio" && inspection.media.audioCodec === null) return `${what} without an audio track`;
  return undefined;
}

/** The kind of media wanted: the declared type's, else the one every allowed type names, else either. */
function wantedKind(rules: ContentRules, declared: string): "video" | "audio" | undefined {
  if (declared.startsWith("video/")) return "video";
  if (declared.startsWith("audio/")) return "audio";
  const allowed = [...(rules.allowedMimeTypes ?? []), ...(rules.tokenAllowedMimeTypes ?? [])].map(essence);
  if (allowed.length > 0 && allowed.every((type) => type.startsWith("video/"))) return "video";
  if (allowed.length > 0 && allowed.every((type) => type.startsWith("audio/"))) return "audio";
  return undefined;
}

function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}
