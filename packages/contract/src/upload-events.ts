import { z } from "zod";

/**
 * The lifecycle events of an upload, as the gateway's in-process hooks receive them and its webhooks deliver them.
 * Each happens at most once per upload (at its state machine's winning transition); `upload.expired` is an abort by
 * the gateway's expiry sweep, not by a client.
 */
export const UPLOAD_EVENT_TYPES = ["upload.started", "upload.completed", "upload.aborted", "upload.expired"] as const;
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
