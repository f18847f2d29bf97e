import {
  uploadStateSchema,
  type PartPlan,
  type StoredPart,
  type UploadDetails,
  type UploadSummary,
} from "@upload-gateway/contract";
import { z } from "zod";

/**
 * What the gateway knows about an upload, kept as JSON in the bucket next to the data so that any replica can serve
 * any request. Written at start and rewritten when the upload completes or is aborted.
 */
export const uploadRecordSchema = z.object({
  version: z.literal(1),
  projectId: z.string(),
  requestKey: z.string(),
  uploadId: z.string(),
  objectKey: z.string(),
  fileName: z.string(),
  mimeType: z.string(),
  contentLength: z.number().int(),
  partSize: z.number().int(),
  partsNumber: z.number().int(),
  lastPartSize: z.number().int(),
  /** Present when the duplicate check reserved this hash for the upload. */
  fileHash: z.string().optional(),
  state: uploadStateSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  completedAt: z.string().nullable(),
  abortedAt: z.string().nullable(),
});
export type UploadRecord = z.infer<typeof uploadRecordSchema>;

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
    fileName: record.fileName,
    mimeType: record.mimeType,
    state: record.state,
    contentLength: String(record.contentLength),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
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
