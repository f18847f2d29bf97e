import { Inject, Injectable, Optional } from "@nestjs/common";
import {
  DEFAULT_LIST_LIMIT,
  type CompleteUploadBody,
  type ListUploadsResult,
  type ResumeUploadResult,
  type SinglePutUploadBody,
  type SinglePutUploadResult,
  type StartUploadBody,
  type StartUploadResult,
  type UploadDetails,
} from "@upload-gateway/contract";
import type { Principal } from "../auth/principal";
import type { Project } from "../auth/projects-file";
import type { AppConfig } from "../config/app-config";
import { ApiError } from "../errors/api-error";
import { DueIndex } from "../scheduling/due-index";
import type { Storage } from "../storage/storage.port";
import { APP_CONFIG, CONTENT_SCANNERS, OBJECT_KEY_NAMER, STORAGE } from "../tokens";
import { clamavScannerFromConfig } from "../verification/clamav.scanner";
import type { ContentScanner } from "../verification/scanner";
import { ContentVerification } from "./content-check/content-verification";
import { DuplicateCheck } from "./duplicate-check";
import { UploadLifecycle } from "./lifecycle/upload-lifecycle.service";
import { OpenUploads, type OpenMarker } from "./open-uploads";
import { ExpirySchedule } from "./expiry-schedule";
import { StartUpload } from "./start-upload";
import { isRequestKey, recordKey, recordPrefix, requestKeyOfRecord, type ObjectKeyNamer } from "./upload-keys";
import { toDetails, toSummary } from "./upload-record";
import { UploadRecords } from "./upload-records";
import { UploadStateMachine, type DownloadResult } from "./upload-state-machine";
import { UploadUrls } from "./upload-urls";

/**
 * The multipart upload workflow, as the controller and the expiry see it: one front over its rooms, which know
 * nothing of Nest and are unit-tested on the in-memory store (their *.test.ts, with test/support/workflow.ts):
 *
 *   StartUpload          start-upload.ts          plan, limits (check-limits.ts), Idempotency-Key, places, record
 *   UploadStateMachine   upload-state-machine.ts  complete, abort, expire, resume, success (compare-and-swap)
 *   UploadRecords        upload-records.ts        the records in the store, read and swapped
 *   OpenUploads, DuplicateCheck, TokenUploads, UploadUrls: the places, reservations, counters and URLs they share
 *
 * The storage adapter does the storing.
 */
@Injectable()
export class UploadsService {
  private readonly records: UploadRecords;
  private readonly starts: StartUpload;
  private readonly transitions: UploadStateMachine;
  private readonly openUploads: OpenUploads;
  private readonly expiries: ExpirySchedule | null;
  /** The content check of stored uploads (content-check/), whose worker the verification worker starts. */
  readonly verification: ContentVerification;

  constructor(
    @Inject(STORAGE) private readonly storage: Storage,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(UploadLifecycle) lifecycle: UploadLifecycle,
    @Optional() @Inject(OBJECT_KEY_NAMER) nameObject: ObjectKeyNamer | null = null,
    @Optional() @Inject(CONTENT_SCANNERS) scanners: readonly ContentScanner[] | null = null,
  ) {
    const dueIndex = new DueIndex(storage);
    // The expiry's windows are as wide as its old sweep interval; none are kept when the expiry is off.
    const window = config.UPLOAD_EXPIRY_SWEEP_SECONDS * 1000;
    this.expiries = window > 0 ? new ExpirySchedule(dueIndex, window, config.UPLOAD_EXPIRY_GRACE_SECONDS * 1000) : null;
    this.records = new UploadRecords(storage, this.expiries);
    this.openUploads = new OpenUploads(storage, (projectId, key) => this.records.read(projectId, key));
    const duplicates = new DuplicateCheck(storage);
    const urls = new UploadUrls(storage, config.DOWNLOAD_URL_EXPIRY_SECONDS);
    this.starts = new StartUpload(
      storage,
      this.records,
      this.openUploads,
      duplicates,
      urls,
      lifecycle,
      nameObject,
      this.expiries,
    );
    const clamav = clamavScannerFromConfig(config);
    this.verification = new ContentVerification(
      storage,
      this.records,
      dueIndex,
      duplicates,
      this.openUploads,
      lifecycle,
      [...(scanners ?? []), ...(clamav ? [clamav] : [])],
      { waitMs: config.VERIFY_WAIT_SECONDS * 1000, leaseMs: config.VERIFY_LEASE_SECONDS * 1000 },
    );
    this.transitions = new UploadStateMachine(
      storage,
      this.records,
      this.openUploads,
      duplicates,
      urls,
      lifecycle,
      this.verification,
    );
  }

  start(project: Project, body: StartUploadBody, idempotencyKey?: string, by?: Principal): Promise<StartUploadResult> {
    return this.starts.multipart(project, body, idempotencyKey, by);
  }

  startSinglePut(
    project: Project,
    body: SinglePutUploadBody,
    idempotencyKey?: string,
    by?: Principal,
  ): Promise<SinglePutUploadResult> {
    return this.starts.singlePut(project, body, idempotencyKey, by);
  }

  complete(project: Project, body: CompleteUploadBody): Promise<true> {
    return this.transitions.complete(project, body);
  }

  abort(project: Project, requestKey: string): Promise<true> {
    return this.transitions.abort(project, requestKey);
  }

  expire(projectId: string, requestKey: string, graceSeconds: number): Promise<boolean> {
    return this.transitions.expire(projectId, requestKey, graceSeconds);
  }

  resume(project: Project, requestKey: string, expiryHours: number | null | undefined): Promise<ResumeUploadResult> {
    return this.transitions.resume(project, requestKey, expiryHours);
  }

  /** `POST success/{requestKey}`: a download URL of a completed upload that passed its check; completes a single PUT. */
  downloadUrl(project: Project, requestKey: string): Promise<DownloadResult> {
    return this.transitions.success(project, requestKey);
  }

  /**
   * Lets an upload token act only on the uploads its owner started: any other upload answers 404, as if it did not
   * exist (a token must not learn which request keys are in use). API keys act on every upload of the project.
   */
  async checkAccess(project: Project, requestKey: string, by: Principal): Promise<void> {
    if (by.kind === "apiKey") return;
    const record = isRequestKey(requestKey) ? await this.records.read(project.id, requestKey) : undefined;
    if (record?.owner === undefined || record.owner !== by.owner) {
      throw new ApiError({ code: "UPLOAD_NOT_FOUND", field: "requestKey", message: "no such upload in this project" });
    }
  }

  async details(project: Project, requestKey: string): Promise<UploadDetails> {
    const record = await this.records.load(project.id, requestKey);
    return toDetails(record, await this.transitions.uploadedParts(record));
  }

  async list(project: Project, cursor: string | undefined, limit = DEFAULT_LIST_LIMIT): Promise<ListUploadsResult> {
    if (cursor !== undefined && !isRequestKey(cursor)) {
      const message = "is not a cursor this server returned";
      throw new ApiError({ code: "VALIDATION_FAILED", field: "cursor", message });
    }
    const page = await this.storage.listKeys(recordPrefix(project.id), {
      ...(cursor ? { startAfter: recordKey(project.id, cursor) } : {}),
      limit,
    });
    const requestKeys = page.keys.flatMap((k) => requestKeyOfRecord(project.id, k) ?? []);
    const records = await Promise.all(requestKeys.map((k) => this.records.read(project.id, k)));
    const uploads = records.flatMap((r) => (r ? [toSummary(r)] : []));
    const last = requestKeys.at(-1);
    return { uploads, nextCursor: page.isTruncated && last ? last : null };
  }

  /** The markers of a project's uploads in progress (their request keys and first URLs' expiry): the expiry's list. */
  openMarkers(projectId: string): AsyncIterable<OpenMarker & { key: string }> {
    return this.openUploads.markers(projectId);
  }

  /** Frees the open-upload place at `key` if its upload never got a record or has ended (see `OpenUploads`). */
  releaseLeakedPlace(projectId: string, key: string): Promise<boolean> {
    return this.openUploads.releaseIfLeaked(projectId, key);
  }
}
