import { z } from "zod";
import { verificationSchema } from "./verification.schemas";

/**
 * The lifecycle events of an upload, as the gateway's in-process hooks receive them and its webhooks deliver them.
 * Each happens at most once per upload (at its state machine's winning transition); `upload.expired` is an abort by
 * the gateway's expiry sweep, not by a client; `upload.verified` / `upload.rejected` follow `upload.completed` once the
 * stored bytes were checked (exactly one of them per completed upload).
 */
export const UPLOAD_EVENT_TYPES = [
  "upload.started",
  "upload.completed",
  "upload.aborted",
  "upload.expired",
  "upload.verified",
  "upload.rejected",
] as const;
export const uploadEventTypeSchema = z.enum(UPLOAD_EVENT_TYPES);
export type UploadEventType = z.infer<typeof uploadEventTypeSchema>;

export const uploadEventDataSchema = z.object({
  projectId: z.string(),
  requestKey: z.string(),
  uploadId: z.string(),
  fileName: z.string(),
  mimeType: z.string(),
  /** The file's size in bytes. */
  size: z.number().int(),
  /** The start's `metadata` (`{}` when none was given). */
  metadata: z.record(z.string()),
  /** `upload.verified` and `upload.rejected`: what the content check found. */
  verification: verificationSchema.optional(),
});

/** A webhook delivery's JSON body. */
export const uploadEventSchema = z.object({
  /** The same for every delivery of one event (retries included): receivers drop repeats by it. */
  id: z.string(),
  type: uploadEventTypeSchema,
  createdAt: z.string().datetime(),
  data: uploadEventDataSchema,
});
export type UploadEvent = z.infer<typeof uploadEventSchema>;
