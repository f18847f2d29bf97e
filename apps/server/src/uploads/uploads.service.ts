import { Inject, Injectable, Logger } from "@nestjs/common";
import {
  DEFAULT_LIST_LIMIT,
  DEFAULT_URL_EXPIRY_HOURS,
  partSizeOf,
  planParts,
  toByteCount,
  type CompleteUploadBody,
  type ErrorProblem,
  type ListUploadsResult,
  type ResumeUploadResult,
  type StartUploadBody,
  type StartUploadResult,
  type StoredPart,
  type UploadDetails,
} from "@upload-gateway/contract";
import type { Project } from "../auth/projects-file";
import { APP_CONFIG } from "../config/config.module";
import type { AppConfig } from "../config/app-config";
import { ApiError } from "../errors/api-error";
import { STORAGE, StorageError, type Storage, type StoredPartInfo } from "../storage/storage.port";
import {
  contentDisposition,
  hashReservationKey,
  isRequestKey,
  newRequestKey,
  objectKey,
  recordKey,
  recordPrefix,
  requestKeyOfRecord,
} from "./upload-keys";
import { planOf, toDetails, toSummary, uploadRecordSchema, type UploadRecord } from "./upload-record";
import { unquoteETag } from "../storage/etag";

const HOUR = 3600;

/** The multipart upload workflow: plans, records and checks; the storage adapter does the storing. */
@Injectable()
export class UploadsService {
  private readonly logger = new Logger(UploadsService.name);

  constructor(
    @Inject(STORAGE) private readonly storage: Storage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async start(project: Project, body: StartUploadBody): Promise<StartUploadResult> {
    const contentLength = toByteCount(body.contentLength);
    const planned = planParts(contentLength, body.partsNumber);
    if (!planned.ok) {
      // The contract's schema refuses these already; kept so the service is safe on its own.
      const [first, ...rest] = planned.problems.map((p): ErrorProblem => ({ code: "VALIDATION_FAILED", ...p }));
      throw new ApiError(first!, ...rest);
    }
    this.checkProjectRules(project, contentLength, body.mimeType);

    const requestKey = newRequestKey();
    const fileHash = body.enableDuplicateCheck && body.fileHash ? body.fileHash : undefined;
    if (fileHash) await this.reserveHash(project.id, fileHash, requestKey);

    const key = objectKey(project.id, requestKey);
    let uploadId: string | undefined;
    try {
      uploadId = await this.storage.createMultipartUpload(key, {
        contentType: body.mimeType,
        contentDisposition: contentDisposition(body.fileName),
        metadata: { "file-name": encodeURIComponent(body.fileName), "request-key": requestKey },
      });
      const now = new Date().toISOString();
      const record: UploadRecord = {
        version: 1,
        projectId: project.id,
        requestKey,
        uploadId,
        objectKey: key,
        fileName: body.fileName,
        mimeType: body.mimeType,
        contentLength,
        partSize: planned.plan.partSize,
        partsNumber: planned.plan.partsNumber,
        lastPartSize: planned.plan.lastPartSize,
        ...(fileHash ? { fileHash } : {}),
        state: "uploading",
        createdAt: now,
        updatedAt: now,
        completedAt: null,
        abortedAt: null,
      };
      await this.storage.writeJson(recordKey(project.id, requestKey), record);
      const partNumbers = Array.from({ length: record.partsNumber }, (_, i) => i + 1);
      return await this.signedPlan(record, partNumbers, body.presignedUrlExpiryTimeHours);
    } catch (error) {
      // Leave nothing half-made behind: no orphaned multipart upload, no reservation blocking a retry.
      await this.bestEffort("clean up a failed start", async () => {
        if (uploadId) await this.storage.abortMultipartUpload(key, uploadId);
        if (fileHash) await this.releaseHash(project.id, fileHash, requestKey);
      });
      throw error;
    }
  }

  async complete(project: Project, body: CompleteUploadBody): Promise<true> {
    const record = await this.loadRecord(project.id, body.requestKey);
    if (record.state === "completed") return true; // a retried complete whose first reply was lost
    if (record.state !== "uploading") throw notInProgress(record);

    const listed = checkListedParts(record, body.parts);
    const stored = await this.listStoredParts(record);
    const storedByNumber = new Map(stored.map((p) => [p.partNumber, p]));
    const plan = planOf(record);
    const problems: ErrorProblem[] = [];
    body.parts.forEach((part, index) => {
      const field = `parts.${index}`;
      const found = storedByNumber.get(part.partNumber);
      if (!found) {
        problems.push({ code: "INVALID_PART", field, message: `part ${part.partNumber} is not stored; upload it first` });
      } else if (unquoteETag(found.eTag) !== unquoteETag(part.eTag)) {
        problems.push({
          code: "INVALID_PART",
          field: `${field}.eTag`,
          message: `does not match the stored part ${part.partNumber} (expected ${found.eTag})`,
        });
      } else if (found.size !== partSizeOf(plan, part.partNumber)) {
        problems.push({
          code: "PART_SIZE_MISMATCH",
          field,
          message: `part ${part.partNumber} is ${found.size} bytes but the plan says ${partSizeOf(plan, part.partNumber)}; upload it again`,
        });
      }
    });
    if (problems.length > 0) throw new ApiError(problems[0]!, ...problems.slice(1));

    try {
      await this.storage.completeMultipartUpload(
        record.objectKey,
        record.uploadId,
        listed.map((p) => ({ partNumber: p.partNumber, eTag: storedByNumber.get(p.partNumber)!.eTag })),
      );
    } catch (error) {
      // Two replicas completing at once: the loser finds the upload gone, but completed by the winner.
      if (error instanceof StorageError && error.reason === "upload-not-found") {
        const now = await this.loadRecord(project.id, body.requestKey);
        if (now.state === "completed") return true;
      }
      throw error;
    }
    const now = new Date().toISOString();
    await this.saveRecord({ ...record, state: "completed", completedAt: now, updatedAt: now });
    return true;
  }

  async abort(project: Project, requestKey: string): Promise<true> {
    const record = await this.loadRecord(project.id, requestKey);
    if (record.state === "aborted") return true;
    if (record.state === "completed") throw notInProgress(record);
    try {
      await this.storage.abortMultipartUpload(record.objectKey, record.uploadId);
    } catch (error) {
      if (!(error instanceof StorageError && error.reason === "upload-not-found")) throw error;
    }
    if (record.fileHash) await this.releaseHash(project.id, record.fileHash, record.requestKey);
    const now = new Date().toISOString();
    await this.saveRecord({ ...record, state: "aborted", abortedAt: now, updatedAt: now });
    return true;
  }

  async resume(
    project: Project,
    requestKey: string,
    expiryHours: number | null | undefined,
  ): Promise<ResumeUploadResult> {
    const record = await this.loadRecord(project.id, requestKey);
    if (record.state !== "uploading") throw notInProgress(record);
    const uploadedParts = usableParts(record, await this.listStoredParts(record));
    const done = new Set(uploadedParts.map((p) => p.partNumber));
    const missing = Array.from({ length: record.partsNumber }, (_, i) => i + 1).filter((n) => !done.has(n));
    return { ...(await this.signedPlan(record, missing, expiryHours)), uploadedParts };
  }

  async downloadUrl(project: Project, requestKey: string): Promise<{ downloadPath: string; expiresAt: string }> {
    const record = await this.loadRecord(project.id, requestKey);
    if (record.state !== "completed") {
      throw new ApiError({
        code: "UPLOAD_NOT_COMPLETED",
        field: "requestKey",
        message: `the upload is ${record.state}, not completed`,
      });
    }
    const expiresIn = this.config.DOWNLOAD_URL_EXPIRY_SECONDS;
    return {
      downloadPath: await this.storage.presignDownload(record.objectKey, expiresIn),
      expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
    };
  }

  async details(project: Project, requestKey: string): Promise<UploadDetails> {
    const record = await this.loadRecord(project.id, requestKey);
    const parts = record.state === "uploading" ? usableParts(record, await this.listStoredParts(record, true)) : [];
    return toDetails(record, parts);
  }

  async list(project: Project, cursor: string | undefined, limit = DEFAULT_LIST_LIMIT): Promise<ListUploadsResult> {
    if (cursor !== undefined && !isRequestKey(cursor)) {
      throw new ApiError({ code: "VALIDATION_FAILED", field: "cursor", message: "is not a cursor this server returned" });
    }
    const page = await this.storage.listKeys(recordPrefix(project.id), {
      ...(cursor ? { startAfter: recordKey(project.id, cursor) } : {}),
      limit,
    });
    const requestKeys = page.keys.flatMap((k) => requestKeyOfRecord(project.id, k) ?? []);
    const records = await Promise.all(requestKeys.map((k) => this.readRecord(project.id, k)));
    const uploads = records.flatMap((r) => (r ? [toSummary(r)] : []));
    const last = requestKeys.at(-1);
    return { uploads, nextCursor: page.isTruncated && last ? last : null };
  }

  private checkProjectRules(project: Project, contentLength: number, mimeType: string): void {
    const problems: ErrorProblem[] = [];
    if (project.maxFileSize !== undefined && contentLength > project.maxFileSize) {
      problems.push({
        code: "FILE_TOO_LARGE",
        field: "contentLength",
        message: `is ${contentLength} bytes; project ${project.id} accepts at most ${project.maxFileSize}`,
      });
    }
    if (project.allowedMimeTypes && !project.allowedMimeTypes.some((allowed) => mimeMatches(allowed, mimeType))) {
      problems.push({
        code: "MIME_TYPE_NOT_ALLOWED",
        field: "mimeType",
        message: `${mimeType} is not accepted by project ${project.id} (allowed: ${project.allowedMimeTypes.join(", ")})`,
      });
    }
    if (problems.length > 0) throw new ApiError(problems[0]!, ...problems.slice(1));
  }

  private async signedPlan(
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

  private async reserveHash(projectId: string, fileHash: string, requestKey: string): Promise<void> {
    const key = hashReservationKey(projectId, fileHash);
    const reserved = await this.storage.writeJson(key, { requestKey, createdAt: new Date().toISOString() }, {
      ifNoneMatch: true,
    });
    if (!reserved) {
      const holder = (await this.storage.readJson(key)) as { requestKey?: string } | undefined;
      throw new ApiError({
        code: "DUPLICATE_FILE",
        field: "fileHash",
        message: `a file with this hash was already uploaded to project ${projectId}${holder?.requestKey ? ` (requestKey ${holder.requestKey})` : ""}`,
      });
    }
  }

  /** Releases a reservation, but only the one this upload holds. */
  private async releaseHash(projectId: string, fileHash: string, requestKey: string): Promise<void> {
    const key = hashReservationKey(projectId, fileHash);
    const holder = (await this.storage.readJson(key)) as { requestKey?: string } | undefined;
    if (holder?.requestKey === requestKey) await this.storage.deleteObject(key);
  }

  private async readRecord(projectId: string, requestKey: string): Promise<UploadRecord | undefined> {
    const json = await this.storage.readJson(recordKey(projectId, requestKey));
    if (json === undefined) return undefined;
    const parsed = uploadRecordSchema.safeParse(json);
    if (!parsed.success || parsed.data.projectId !== projectId) {
      this.logger.error(`Unreadable upload record ${recordKey(projectId, requestKey)}`);
      return undefined;
    }
    return parsed.data;
  }

  private async loadRecord(projectId: string, requestKey: string): Promise<UploadRecord> {
    const record = isRequestKey(requestKey) ? await this.readRecord(projectId, requestKey) : undefined;
    if (!record) {
      throw new ApiError({ code: "UPLOAD_NOT_FOUND", field: "requestKey", message: "no such upload in this project" });
    }
    return record;
  }

  private async saveRecord(record: UploadRecord): Promise<void> {
    await this.storage.writeJson(recordKey(record.projectId, record.requestKey), record);
  }

  private async listStoredParts(record: UploadRecord, missingIsEmpty = false): Promise<StoredPartInfo[]> {
    try {
      return await this.storage.listParts(record.objectKey, record.uploadId);
    } catch (error) {
      if (error instanceof StorageError && error.reason === "upload-not-found") {
        if (missingIsEmpty) return [];
        throw new ApiError({
          code: "UPLOAD_NOT_FOUND",
          field: "requestKey",
          message: "the upload no longer exists in storage",
        });
      }
      throw error;
    }
  }

  private async bestEffort(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.logger.warn(`Could not ${what}: ${(error as Error).message}`);
    }
  }
}

function notInProgress(record: UploadRecord): ApiError {
  return new ApiError({
    code: "UPLOAD_NOT_IN_PROGRESS",
    field: "requestKey",
    message: `the upload is ${record.state}`,
  });
}

/** Checks the listed parts against the plan: each part once, every part present. Returns them in ascending order. */
function checkListedParts(record: UploadRecord, parts: CompleteUploadBody["parts"]): CompleteUploadBody["parts"] {
  const problems: ErrorProblem[] = [];
  const seen = new Set<number>();
  parts.forEach((part, index) => {
    if (part.partNumber > record.partsNumber) {
      problems.push({
        code: "VALIDATION_FAILED",
        field: `parts.${index}.partNumber`,
        message: `is ${part.partNumber} but the upload has only ${record.partsNumber} parts`,
      });
    } else if (seen.has(part.partNumber)) {
      problems.push({
        code: "VALIDATION_FAILED",
        field: `parts.${index}.partNumber`,
        message: `part ${part.partNumber} is listed twice`,
      });
    }
    seen.add(part.partNumber);
  });
  const missing: number[] = [];
  for (let n = 1; n <= record.partsNumber; n++) if (!seen.has(n)) missing.push(n);
  if (missing.length > 0) {
    const shown = missing.length > 10 ? `${missing.slice(0, 10).join(", ")} and ${missing.length - 10} more` : missing.join(", ");
    problems.push({
      code: "VALIDATION_FAILED",
      field: "parts",
      message: `must list every part of the upload (1 to ${record.partsNumber}); missing ${shown}`,
    });
  }
  if (problems.length > 0) throw new ApiError(problems[0]!, ...problems.slice(1));
  return [...parts].sort((a, b) => a.partNumber - b.partNumber);
}

/** Stored parts that count as uploaded: those in the plan with the plan's size (others must be sent again). */
function usableParts(record: UploadRecord, stored: StoredPartInfo[]): StoredPart[] {
  const plan = planOf(record);
  return stored.filter((p) => p.partNumber <= record.partsNumber && p.size === partSizeOf(plan, p.partNumber));
}


function mimeMatches(allowed: string, mimeType: string): boolean {
  const a = allowed.toLowerCase();
  const m = mimeType.toLowerCase();
  return a === "*/*" || a === m || (a.endsWith("/*") && m.startsWith(a.slice(0, -1)));
}
