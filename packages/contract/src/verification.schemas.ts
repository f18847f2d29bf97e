import { z } from "zod";

/**
 * What the gateway found in an upload's stored bytes (issue 20). The gateway checks every upload once its bytes are
 * stored (multipart complete; a single PUT's `success`) by ranged reads of the store, never by what the client declared.
 */

/** A media container's facts, read from its header/index. Every field but `container` is null when the file has none. */
export interface MediaFacts {
  container: string;
  durationSeconds: number | null;
  width: number | null;
  height: number | null;
  frameRate: number | null;
  videoCodec: string | null;
  audioCodec: string | null;
  bitRate: number | null;
}

export const mediaFactsSchema: z.ZodType<MediaFacts> = z.object({
  container: z.string().describe('The container: "mp4", "mov", "webm", "matroska", "mp3", "aac", "wav", "ogg", ...'),
  durationSeconds: z.number().nullable(),
  width: z.number().int().nullable().describe("Pixels; null for audio."),
  height: z.number().int().nullable().describe("Pixels; null for audio."),
  frameRate: z.number().nullable().describe("Frames per second; null for audio."),
  videoCodec: z.string().nullable().describe('"h264", "hevc", "vp9", "av1", ...; null without a video track.'),
  audioCodec: z.string().nullable().describe('"aac", "opus", "mp3", "pcm", ...; null without an audio track.'),
  bitRate: z.number().nullable().describe("The whole file's bits per second."),
});

export const VERIFICATION_STATES = ["pending", "passed", "failed"] as const;
export const verificationStateSchema = z.enum(VERIFICATION_STATES);
export type VerificationState = z.infer<typeof verificationStateSchema>;

/**
 * Why a verification failed: a closed set, the `code` label of `upload_gateway_uploads_rejected_total`. The upload's
 * reply is the error `CONTENT_REJECTED`; this says which rule refused it.
 */
export const VERIFICATION_FAILURE_CODES = {
  TYPE_NOT_ALLOWED: "The detected type is not one the project (or the upload token) accepts.",
  TYPE_MISMATCH: "The detected type disagrees with the declared mimeType.",
  NOT_MEDIA: "An audio or video upload is not a decodable container of that kind.",
  DURATION_TOO_LONG: "The media is longer than maxDurationSeconds.",
  SUSPICIOUS_CONTENT: "The file carries something besides what it claims to be (markup, an archive, a cut index).",
  MALWARE_FOUND: "A content scanner found malware.",
  SCANNER_REJECTED: "A content scanner refused the file.",
  HASH_MISMATCH: "The stored bytes' SHA-256 differs from the start's fileHash.",
} as const;
export type VerificationFailureCode = keyof typeof VERIFICATION_FAILURE_CODES;
export const verificationFailureCodeSchema = z.enum(
  Object.keys(VERIFICATION_FAILURE_CODES) as [VerificationFailureCode, ...VerificationFailureCode[]],
);

/** What the content check found (see `verificationSchema`). */
export interface Verification {
  state: VerificationState;
  detectedMimeType: string | null;
  code?: VerificationFailureCode;
  reason?: string;
  media?: MediaFacts;
  sha256?: string;
}

// Typed by its interface: the schema is part of several routes' replies, and a named type keeps the declarations of
// contracts built on this one (`{ ...uploadsContract }`) within what TypeScript will serialize (TS7056).
export const verificationSchema: z.ZodType<Verification> = z.object({
  state: verificationStateSchema.describe(
    "`pending` until the stored bytes were checked; then `passed`, or `failed` (the upload's state is `rejected`).",
  ),
  detectedMimeType: z
    .string()
    .nullable()
    .describe(
      "The type found from the content's signature (`application/octet-stream` when none); null while pending.",
    ),
  code: verificationFailureCodeSchema.optional().describe("Which rule refused the file; only when `failed`."),
  reason: z
    .string()
    .optional()
    .describe('Only when `failed`, in plain words: "declared video/mp4, found an HTML page (text/html)".'),
  media: mediaFactsSchema.optional().describe("For audio and video: the container's facts."),
  sha256: z
    .string()
    .optional()
    .describe("The stored bytes' SHA-256 (hex), computed by the gateway; only for a project with verifyFileHash."),
});

/**
 * The check's two outcomes by example, as the API reference shows them: a video that passed with its facts, and an
 * HTML page declared `video/mp4` that failed. For documentation, and for apps' and our own tests of what a client
 * shows.
 */
export const VERIFICATION_EXAMPLES = {
  passed: {
    state: "passed",
    detectedMimeType: "video/mp4",
    media: {
      container: "mp4",
      durationSeconds: 514.2,
      width: 1920,
      height: 1080,
      frameRate: 25,
      videoCodec: "h264",
      audioCodec: "aac",
      bitRate: 4_000_000,
    },
  },
  failed: {
    state: "failed",
    detectedMimeType: "text/html",
    code: "TYPE_MISMATCH",
    reason: "declared video/mp4, found an HTML page (text/html)",
  },
} as const satisfies Record<"passed" | "failed", Verification>;
