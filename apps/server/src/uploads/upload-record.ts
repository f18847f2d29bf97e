import {
  MAX_URL_EXPIRY_HOURS,
  uploadStateSchema,
  uploadTransferSchema,
  verificationSchema,
  type PartPlan,
  type StoredPart,
  type UploadDetails,
  type UploadSummary,
} from "@upload-gateway/contract";
import { createHash } from "node:crypto";
import { z } from "zod";
import { unquoteETag } from "../storage/etag";

/**
 * What the gateway knows about an upload, kept as JSON in the bucket next to the data so that any replica can serve
 * any request. Written at start; every later change is a compare-and-swap on it (see upload-records.ts and upload-state-machine.ts).
 */
export const uploadRecordSchema = z.object({
  version: z.literal(1),
  projectId: z.string(),
  requestKey: z.string(),
  /** The store's multipart upload id; empty for a single-PUT upload, which has none. */
  uploadId: z.string(),
  /** How the bytes travel; absent in records written before single-PUT uploads existed, which are all multipart. */
  transfer: uploadTransferSchema.optional(),
  objectKey: z.string(),
  fileName: z.string(),
  mimeType: z.string(),
  contentLength: z.number().int(),
  partSize: z.number().int(),
  partsNumber: z.number().int(),
  lastPartSize: z.number().int(),
  /** The start's `metadata` (records written before it existed have none). */
  metadata: z.record(z.string()).optional(),
  /**
   * Set when an upload token started the upload: the token's owner (its id, or the subject it was minted for). Tokens
   * act only on uploads of their own owner; API keys on every upload of the project.
   */
  owner: z.string().optional(),
  /** Present when the duplicate check reserved this hash for the upload. */
  fileHash: z.string().optional(),
  /** The open-upload place (`maxOpenUploads`) the upload holds while in progress (open-uploads.ts). */
  openSlot: z.number().int().nonnegative().optional(),
  state: uploadStateSchema,
  /**
   * Set when a complete request won the upload (state still `uploading`: the store has not assembled it yet) and kept
   * once it is `completed`: which parts it was completed with, so that the same request sent again can be told apart
   * from another one.
   */
  completion: z.object({ partsDigest: z.string(), startedAt: z.string() }).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  completedAt: z.string().nullable(),
  abortedAt: z.string().nullable(),
  /**
   * When the latest URLs handed out for it stop working (start, resume, a replayed start): the expiry sweep aborts
   * an upload still in progress this long plus the grace after. Records older than the field have none.
   */
  urlsExpireAt: z.string().optional(),
  /** `expiry` when the expiry sweep aborted it rather than a client. */
  abortedBy: z.enum(["client", "expiry"]).optional(),
  /**
   * The rules its stored bytes are judged by (content-check/verification-policy.ts's `ContentRules`): the project's and
   * the upload token's as they were at start, so that any replica can judge it later. Absent in older records.
   */
  checks: z
    .object({
      allowedMimeTypes: z.array(z.string()).optional(),
      tokenAllowedMimeTypes: z.array(z.string()).optional(),
      maxDurationSeconds: z.number().optional(),
      requireMedia: z.boolean().optional(),
      verifyFileHash: z.boolean().optional(),
      quarantine: z.boolean().optional(),
      expectedSha256: z.string().optional(),
    })
    .optional(),
  /** The content check: `pending` from the moment the bytes are stored (`completed`), then `passed` or `failed`. */
  verification: verificationSchema.optional(),
  /** When the content check decided (the time of `upload.verified` / `upload.rejected`). */
  verifiedAt: z.string().optional(),
});
export type UploadRecord = z.infer<typeof uploadRecordSchema>;

/**
 * Where an upload is in its life. `completing`: a complete request has won it, and it will be `completed` once the
 * store has assembled the object (a crash in between leaves it here until a complete request is sent again).
 *
 *   uploading ──complete──► completing ──► completed
 *       └──────abort──────► aborted
 *
 * A single-PUT upload (`POST /url`) goes from `uploading` to `completed` when `POST success/{requestKey}` finds its
 * object stored whole, or to `aborted`. A `completed` upload's bytes are then checked (its `verification` goes from
 * `pending` to `passed`), or it becomes `rejected` (`failed`).
 */
export type UploadPhase = UploadRecord["state"] | "completing";

export function phaseOf(record: UploadRecord): UploadPhase {
  return record.state === "uploading" && record.completion ? "completing" : record.state;
}

/** One digest of a complete request's parts, whatever their order and however their eTags are quoted. */
export function partsDigest(parts: readonly { partNumber: number; eTag: string }[]): string {
  const lines = [...parts]
    .sort((a, b) => a.partNumber - b.partNumber)
    .map((p) => `${p.partNumber}:${unquoteETag(p.eTag)}`)
    .join("\n");
  return createHash("sha256").update(lines, "utf8").digest("hex");
}

export function isSinglePut(record: UploadRecord): boolean {
  return record.transfer === "single-put";
}

export function planOf(record: UploadRecord): PartPlan {
  return {
    partSize: record.partSize,
    partsNumber: record.partsNumber,
    lastPartSize: record.lastPartSize,
    contentLength: record.contentLength,
  };
}

export function toSummary(record: UploadRecord): UploadSummary {
  return {
    requestKey: record.requestKey,
    uploadId: record.uploadId,
    transfer: record.transfer ?? "multipart",
    fileName: record.fileName,
    mimeType: record.mimeType,
    state: record.state,
    contentLength: String(record.contentLength),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    metadata: record.metadata ?? {},
    ...(record.verification ? { verification: record.verification } : {}),
  };
}

export function toDetails(record: UploadRecord, uploadedParts: StoredPart[]): UploadDetails {
  return {
    ...toSummary(record),
    projectId: record.projectId,
    partSize: record.partSize,
    partsNumber: record.partsNumber,
    uploadedParts,
    completedAt: record.completedAt,
    abortedAt: record.abortedAt,
  };
}

/** The event of an aborted upload: by a client, or by the expiry sweep. */
export function abortEventOf(record: UploadRecord): "upload.aborted" | "upload.expired" {
  return record.abortedBy === "expiry" ? "upload.expired" : "upload.aborted";
}

/** The longest URL lifetime: what a record without `urlsExpireAt` is assumed to have been given. */
const MAX_URL_LIFETIME_MS = MAX_URL_EXPIRY_HOURS * 3600 * 1000;

/** Whether an upload's URLs stopped working more than `graceSeconds` ago. */
export function isExpired(record: UploadRecord, graceSeconds: number, now = Date.now()): boolean {
  const expiresAt = record.urlsExpireAt
    ? Date.parse(record.urlsExpireAt)
    : Date.parse(record.createdAt) + MAX_URL_LIFETIME_MS;
  return expiresAt + graceSeconds * 1000 < now;
}
