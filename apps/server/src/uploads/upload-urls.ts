import {
  DEFAULT_URL_EXPIRY_HOURS,
  partSizeOf,
  type SinglePutUploadResult,
  type StartUploadResult,
} from "@upload-gateway/contract";
import type { ObjectMetadata, Storage } from "../storage/storage.port";
import { unsafeInline } from "./content-check/type-families";
import { contentDisposition } from "./upload-keys";
import { planOf, type UploadRecord } from "./upload-record";

const HOUR = 3600;

/** The signed URLs handed out for an upload: its parts' (start, resume), its single PUT's, its download's. */
export class UploadUrls {
  constructor(
    private readonly storage: Storage,
    private readonly downloadExpirySeconds: number,
  ) {}

  /** A multipart start's (or resume's) reply: a URL for each of `partNumbers`, each bound to its planned size. */
  async partsPlan(
    record: UploadRecord,
    partNumbers: number[],
    expiryHours: number | null | undefined,
  ): Promise<StartUploadResult> {
    const expiresIn = (expiryHours ?? DEFAULT_URL_EXPIRY_HOURS) * HOUR;
    const plan = planOf(record);
    // Each URL is bound to its part's planned size: the store refuses any other length.
    const parts = partNumbers.map((partNumber) => ({ partNumber, size: partSizeOf(plan, partNumber) }));
    const urls = await this.storage.presignUploadParts(record.objectKey, record.uploadId, parts, expiresIn);
    return {
      uploadId: record.uploadId,
      requestKey: record.requestKey,
      presignedUrl: partNumbers.map((partNumber, i) => ({ partNumber, presignedUrl: urls[i]! })),
      partSize: record.partSize,
      partsNumber: record.partsNumber,
      contentLength: String(record.contentLength),
      expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
      integrity: { contentMd5: true, eTagIsMd5: this.storage.partETagsAreMd5 },
    };
  }

  /** A single-PUT start's reply: one URL for the whole file, bound to its size, type and metadata. */
  async singlePut(record: UploadRecord, expiryHours: number | null | undefined): Promise<SinglePutUploadResult> {
    const expiresIn = (expiryHours ?? DEFAULT_URL_EXPIRY_HOURS) * HOUR;
    // The object gets the metadata a multipart upload's object gets (only the disposition would be a header to send).
    const { contentType, metadata } = objectMetadataOf(record);
    const object = { size: record.contentLength, contentType, metadata };
    const { url, headers } = await this.storage.presignPutObject(record.objectKey, object, expiresIn);
    return {
      url,
      headers,
      requestKey: record.requestKey,
      contentLength: String(record.contentLength),
      expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
      integrity: { contentMd5: true, eTagIsMd5: this.storage.partETagsAreMd5 },
    };
  }

  /** A completed upload's download URL. */
  async download(record: UploadRecord): Promise<{ downloadPath: string; expiresAt: string }> {
    const expiresIn = this.downloadExpirySeconds;
    // The download answers with the type and name the upload declared and no caching by shared caches, whatever its
    // PUT sent (a single PUT's type is not signed, its request names no file, and S3 keeps its Cache-Control). Always
    // as an attachment; markup, script and text (declared or found) as bytes, never as something a browser renders.
    const detected = record.verification?.detectedMimeType;
    const unsafe = unsafeInline(record.mimeType) || (detected != null && unsafeInline(detected));
    const options = {
      contentType: unsafe ? "application/octet-stream" : record.mimeType,
      contentDisposition: contentDisposition(record.fileName),
      cacheControl: "private",
    };
    return {
      downloadPath: await this.storage.presignDownload(record.objectKey, expiresIn, options),
      expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
    };
  }
}

/**
 * What the store keeps with an upload's object, whichever the transfer: its type, its name (as the download's
 * disposition, and URI-encoded as `file-name` metadata: S3 metadata travels in headers) and its request key.
 */
export function objectMetadataOf(upload: { fileName: string; mimeType: string; requestKey: string }): ObjectMetadata {
  return {
    contentType: upload.mimeType,
    contentDisposition: contentDisposition(upload.fileName),
    metadata: { "file-name": encodeURIComponent(upload.fileName), "request-key": upload.requestKey },
  };
}
