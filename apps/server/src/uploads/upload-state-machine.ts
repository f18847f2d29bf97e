import type { CompleteUploadBody, ResumeUploadResult, StoredPart, Verification } from "@upload-gateway/contract";
import type { Project } from "../auth/projects-file";
import { ApiError } from "../errors/api-error";
import { StorageError, type CompletedPart, type Storage, type StoredPartInfo } from "../storage/storage.port";
import { checkListedParts, completableParts, quotedParts, usableParts } from "./completion-parts";
import {
  contentRejected,
  PENDING,
  verificationPending,
  type ContentVerification,
} from "./content-check/content-verification";
import type { DuplicateCheck } from "./duplicate-check";
import type { UploadLifecycle } from "./lifecycle/upload-lifecycle.service";
import type { OpenUploads } from "./open-uploads";
import { abortEventOf, isExpired, isSinglePut, partsDigest, phaseOf, type UploadRecord } from "./upload-record";
import { contended, MAX_SWAP_ATTEMPTS, notInProgress, type UploadRecords } from "./upload-records";
import { headersNotSigned } from "./single-put-object";
import { UploadRelease } from "./upload-release";
import { objectMetadataOf, type UploadUrls } from "./upload-urls";

/** How long a complete request that finds another one completing the same upload waits for its outcome. */
const COMPLETION_WAIT_MS = 15_000;
/** How often it looks. */
const COMPLETION_POLL_MS = 100;
/**
 * A completion started this long ago and not finished died with its process (stores assemble even 10,000 parts in
 * seconds): a complete request sent again then finishes it.
 */
const COMPLETION_STALE_MS = 120_000;

/** `POST success/{requestKey}`'s result: the download URL and the content check the file passed. */
export interface DownloadResult {
  downloadPath: string;
  expiresAt: string;
  verification: Verification;
}

/** What the transitions need of the lifecycle: each winning transition reported once, each retried one recorded. */
export type TransitionLifecycle = Pick<UploadLifecycle, "transitioned" | "retried">;

/**
 * An upload's life after its start, each step a compare-and-swap on its record (see upload-record.ts's `UploadPhase`):
 *
 *   uploading ──complete──► completing ──► completed        (multipart)
 *   uploading ──success───► completed                        (single PUT, once its object is stored whole)
 *       └──────abort / expiry──► aborted
 *   completed (verification pending) ──content check──► completed (passed) or rejected (content-check/)
 *
 * Of requests racing on one upload, exactly one wins each transition and reports it; the others see what won. Every
 * transition is safe to send again after a lost reply: it answers as the first one did and finishes what it left.
 */
export class UploadStateMachine {
  private readonly release: UploadRelease;

  constructor(
    private readonly storage: Storage,
    private readonly records: UploadRecords,
    openUploads: OpenUploads,
    duplicates: DuplicateCheck,
    private readonly urls: UploadUrls,
    private readonly lifecycle: TransitionLifecycle,
    private readonly verifier: ContentVerification,
  ) {
    this.release = new UploadRelease(storage, records, openUploads, duplicates);
  }

  /**
   * `uploading → completing → completed`. The request that swaps the record from `uploading` to `completing` (a
   * compare-and-swap on the record's version) has won the upload: an abort can no longer win, and it alone asks the
   * store to assemble the object. Requests that find it `completing` with the same parts wait for the outcome; with
   * other parts they get 409. Sent again once `completed`, with the same parts, it answers true.
   */
  async complete(project: Project, body: CompleteUploadBody): Promise<true> {
    const digest = partsDigest(body.parts);
    const waitUntil = Date.now() + COMPLETION_WAIT_MS;
    for (let swaps = 0; swaps < MAX_SWAP_ATTEMPTS;) {
      const { record, version } = await this.records.loadVersioned(project.id, body.requestKey);
      if (isSinglePut(record)) throw notMultipart();
      const phase = phaseOf(record);
      if (phase === "completed") {
        if (record.completion && record.completion.partsDigest !== digest) {
          throw notInProgress(record, "the upload was completed with other parts");
        }
        // A retried complete whose first reply was lost: finish what it left.
        await this.lifecycle.retried("upload.completed", record);
        return this.release.whileCompleted(record, async (): Promise<true> => {
          await this.verifier.settle(record, version);
          return true;
        });
      }
      if (phase === "rejected") {
        if (record.completion && record.completion.partsDigest !== digest) {
          throw notInProgress(record, "the upload was completed with other parts");
        }
        throw contentRejected(record);
      }
      if (phase === "completing") {
        const completion = record.completion!;
        if (completion.partsDigest !== digest) {
          throw notInProgress(record, "the upload is being completed with other parts");
        }
        if (Date.now() - Date.parse(completion.startedAt) >= COMPLETION_STALE_MS) {
          return this.finishCompletion(record, quotedParts(body.parts), version);
        }
        if (Date.now() >= waitUntil) {
          throw notInProgress(
            record,
            "the upload is being completed by another request; send this one again later for its outcome",
          );
        }
        await sleep(COMPLETION_POLL_MS);
        continue;
      }
      if (phase !== "uploading") throw notInProgress(record);

      let parts: CompletedPart[];
      try {
        checkListedParts(record, body.parts); // before the store is asked
        parts = completableParts(record, body.parts, await this.storedParts(record));
      } catch (error) {
        // The store's upload went while the parts were checked: decide again on what the record says now.
        if (error instanceof ApiError && error.problems[0].code === "UPLOAD_NOT_IN_PROGRESS") {
          swaps++;
          continue;
        }
        throw error;
      }
      const now = new Date().toISOString();
      const claimed: UploadRecord = { ...record, completion: { partsDigest: digest, startedAt: now }, updatedAt: now };
      const swapped = await this.records.swap(claimed, version);
      if (!swapped) {
        swaps++;
        continue; // another request changed the upload meanwhile: decide again on what it is now
      }
      return this.finishCompletion(claimed, parts, swapped.version);
    }
    throw contended();
  }

  /** `uploading → aborted`: the swap decides against a concurrent complete; then the store's upload is discarded. */
  async abort(project: Project, requestKey: string): Promise<true> {
    for (let swaps = 0; swaps < MAX_SWAP_ATTEMPTS; swaps++) {
      const { record, version } = await this.records.loadVersioned(project.id, requestKey);
      const phase = phaseOf(record);
      if (phase === "aborted") {
        // A retried abort whose first reply was lost: finish what it left.
        await this.lifecycle.retried(abortEventOf(record), record);
        await this.release.aborted(record);
        return true;
      }
      if (phase !== "uploading") {
        throw notInProgress(record, phase === "completing" ? "the upload is being completed" : undefined);
      }
      const now = new Date().toISOString();
      const aborted: UploadRecord = { ...record, state: "aborted", abortedAt: now, updatedAt: now };
      aborted.abortedBy = "client";
      if (await this.records.swap(aborted, version)) {
        await this.lifecycle.transitioned("upload.aborted", aborted);
        await this.release.aborted(aborted);
        return true;
      }
    }
    throw contended();
  }

  /**
   * `uploading → aborted` by the expiry sweep, for an upload whose URLs expired more than `graceSeconds` ago. The
   * same compare-and-swap as a client's abort, so of replicas sweeping at once, or a sweep and a client's complete or
   * abort, exactly one wins. Returns whether this call expired it.
   */
  async expire(projectId: string, requestKey: string, graceSeconds: number): Promise<boolean> {
    for (let swaps = 0; swaps < MAX_SWAP_ATTEMPTS; swaps++) {
      const found = await this.records.readVersioned(projectId, requestKey);
      if (!found || phaseOf(found.record) !== "uploading" || !isExpired(found.record, graceSeconds)) return false;
      const now = new Date().toISOString();
      const expired: UploadRecord = {
        ...found.record,
        state: "aborted",
        abortedAt: now,
        updatedAt: now,
        abortedBy: "expiry",
      };
      if (await this.records.swap(expired, found.version)) {
        await this.lifecycle.transitioned("upload.expired", expired);
        await this.release.aborted(expired);
        return true;
      }
    }
    return false; // contended: the next sweep looks again
  }

  /** Fresh URLs for the parts a multipart upload in progress still lacks, and the parts it has. */
  async resume(
    project: Project,
    requestKey: string,
    expiryHours: number | null | undefined,
  ): Promise<ResumeUploadResult> {
    const record = await this.records.load(project.id, requestKey);
    if (isSinglePut(record)) throw notMultipart();
    const phase = phaseOf(record);
    if (phase !== "uploading") {
      throw notInProgress(record, phase === "completing" ? "the upload is being completed" : undefined);
    }
    const uploadedParts = usableParts(record, await this.storedParts(record));
    const done = new Set(uploadedParts.map((p) => p.partNumber));
    const missing = Array.from({ length: record.partsNumber }, (_, i) => i + 1).filter((n) => !done.has(n));
    const signed = await this.urls.partsPlan(record, missing, expiryHours);
    await this.records.extendExpiry(record, signed.expiresAt);
    return { ...signed, uploadedParts };
  }

  /**
   * `POST success/{requestKey}`: a download URL of a completed upload whose content check passed; completes a
   * single-PUT upload first. Waits for the check (a bounded time): 422 CONTENT_REJECTED when it failed, 409
   * VERIFICATION_PENDING (retryable) when it has not decided yet. No URL for an object that has not passed.
   */
  async success(project: Project, requestKey: string): Promise<DownloadResult> {
    let record = await this.records.load(project.id, requestKey);
    if (isSinglePut(record) && record.state === "uploading") record = await this.confirmSinglePut(record);
    if (record.state === "rejected") throw contentRejected(record);
    if (record.state === "completed" && record.verification === undefined) {
      record = await this.verifier.beginLate(record); // completed before the check existed: checked now
    }
    if (record.state === "completed") record = await this.verifier.settle(record);
    if (record.state === "completed" && record.verification?.state !== "passed") throw verificationPending();
    if (record.state !== "completed") {
      throw new ApiError({
        code: "UPLOAD_NOT_COMPLETED",
        field: "requestKey",
        message: `the upload is ${record.state}, not completed`,
      });
    }
    return { ...(await this.urls.download(record)), verification: record.verification! };
  }

  /** The parts of an upload in progress that count as uploaded (none once it has ended; none of a single PUT). */
  async uploadedParts(record: UploadRecord): Promise<StoredPart[]> {
    if (record.state !== "uploading" || isSinglePut(record)) return [];
    return usableParts(record, await this.storedParts(record, true));
  }

  /**
   * `uploading → completed` for a single-PUT upload whose object is stored with its planned size (the store's HEAD);
   * otherwise 409 `UPLOAD_NOT_COMPLETED`, saying what is missing. The compare-and-swap decides against a concurrent
   * abort: the record returned is `completed` or says what won instead.
   */
  private async confirmSinglePut(record: UploadRecord): Promise<UploadRecord> {
    const head = await this.storage.objectHead(record.objectKey);
    const size = head?.size;
    const unsigned = head ? headersNotSigned(head, objectMetadataOf(record).metadata) : [];
    if (unsigned.length > 0) {
      // Stored with headers its URL does not sign (a store that keeps them, such as Ceph RGW): downloads would echo
      // them. Removed, so that a PUT with the URL's headers only can store the file; no download was ever handed out.
      await this.storage.deleteObject(record.objectKey);
      throw new ApiError({
        code: "UPLOAD_NOT_COMPLETED",
        field: "requestKey",
        message: `the file was stored with headers its URL does not set (${unsigned.join(", ")}) and was removed: PUT it again with only the headers \`POST /url\` answered`,
      });
    }
    if (size !== record.contentLength) {
      throw new ApiError({
        code: "UPLOAD_NOT_COMPLETED",
        field: "requestKey",
        message:
          size === undefined
            ? "the file has not been stored yet: PUT it to the upload's URL first"
            : `the stored file is ${size} bytes but the upload is ${record.contentLength}; PUT the file again`,
      });
    }
    await this.verifier.begin(record); // first: no upload is stored without its check to come
    const { record: completed, changed } = await this.records.update(record, (current) => {
      if (phaseOf(current) !== "uploading") return undefined;
      const now = new Date().toISOString();
      return { ...current, state: "completed", completedAt: now, updatedAt: now, verification: PENDING };
    });
    if (changed) await this.lifecycle.transitioned("upload.completed", completed);
    else if (completed.state === "completed") await this.lifecycle.retried("upload.completed", completed);
    if (completed.state === "completed") await this.release.completed(completed);
    return completed;
  }

  /**
   * Has the store assemble the object of an upload this request won (or took over), then records it `completed`.
   * Safe to run again after a crash or alongside a takeover: a store that no longer has the multipart upload but has
   * the object at its full size completed it already.
   */
  private async finishCompletion(record: UploadRecord, parts: CompletedPart[], version?: string): Promise<true> {
    try {
      await this.storage.completeMultipartUpload(record.objectKey, record.uploadId, parts);
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      if (error.reason === "upload-not-found") {
        if ((await this.storage.objectSize(record.objectKey)) !== record.contentLength) {
          throw goneFromStorage();
        }
      } else if (error.reason === "unavailable") {
        throw error; // the record stays `completing`: sending the request again finishes it
      } else {
        // The store refused the parts (one was sent again since they were checked): the upload is open again.
        await this.release.completionClaim(record);
        throw error;
      }
    }
    return this.release.whileCompleted(record, async (): Promise<true> => {
      await this.verifier.begin(record); // first: no upload is stored without its check to come
      const completion = await this.records.update(
        record,
        (current) => {
          if (phaseOf(current) === "completed" || current.state === "rejected") return undefined;
          const now = new Date().toISOString();
          return { ...current, state: "completed", completedAt: now, updatedAt: now, verification: PENDING };
        },
        version, // the `completing` swap's: no read of the record, unless another request changed it since
      );
      const completed = completion.record;
      // Only the request whose swap made it `completed` reports it: a takeover racing this one finds it done.
      if (completion.changed) await this.lifecycle.transitioned("upload.completed", completed);
      if (completed.state === "rejected") throw contentRejected(completed);
      await this.verifier.settle(completed, completion.version);
      return true;
    });
  }

  private async storedParts(record: UploadRecord, missingIsEmpty = false): Promise<StoredPartInfo[]> {
    try {
      return await this.storage.listParts(record.objectKey, record.uploadId);
    } catch (error) {
      if (error instanceof StorageError && error.reason === "upload-not-found") {
        if (missingIsEmpty) return [];
        // Most often a concurrent request has just completed or aborted it: say so, as if it had come first.
        const now = await this.records.read(record.projectId, record.requestKey);
        if (now && phaseOf(now) !== "uploading") throw notInProgress(now);
        throw goneFromStorage();
      }
      throw error;
    }
  }
}

function notMultipart(): ApiError {
  return new ApiError({
    code: "NOT_A_MULTIPART_UPLOAD",
    field: "requestKey",
    message: "names a single-PUT upload (POST /url): PUT the file to its URL, then call POST success/{requestKey}",
  });
}

function goneFromStorage(): ApiError {
  const message = "the upload no longer exists in storage";
  return new ApiError({ code: "UPLOAD_NOT_FOUND", field: "requestKey", message });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
