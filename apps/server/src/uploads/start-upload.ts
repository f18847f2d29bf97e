import { Logger } from "@nestjs/common";
import {
  DEFAULT_URL_EXPIRY_HOURS,
  planParts,
  toByteCount,
  type ErrorProblem,
  type PartPlan,
  type SinglePutUploadBody,
  type SinglePutUploadResult,
  type StartUploadBody,
  type StartUploadResult,
  type UploadTransfer,
} from "@upload-gateway/contract";
import type { Principal, TokenPrincipal } from "../auth/principal";
import type { Project } from "../auth/projects-file";
import { ApiError } from "../errors/api-error";
import type { ObjectMetadata, Storage } from "../storage/storage.port";
import { bestEffort } from "./best-effort";
import { checkLimits } from "./check-limits";
import type { DuplicateCheck } from "./duplicate-check";
import type { ExpirySchedule } from "./expiry-schedule";
import { IdempotencyLedger, startFingerprint, type ClaimOutcome } from "./idempotency-ledger";
import type { UploadLifecycle } from "./lifecycle/upload-lifecycle.service";
import type { OpenUploads } from "./open-uploads";
import { TokenUploads } from "./token-uploads";
import { newRequestKey, objectKey, objectKeyProblem, type ObjectKeyNamer } from "./upload-keys";
import type { ContentRules } from "./content-check/verification-policy";
import { phaseOf, type UploadRecord } from "./upload-record";
import type { UploadRecords } from "./upload-records";
import { objectMetadataOf, type UploadUrls } from "./upload-urls";

const HOUR = 3600;

/** What starting needs of the lifecycle: the `beforeStart` hook, and the `upload.started` event. */
export type StartLifecycle = Pick<UploadLifecycle, "beforeStart" | "transitioned" | "decidesStarts">;

/** The fields of a start that every transfer has. */
type StartFields = StartUploadBody | SinglePutUploadBody;

/** What differs between the transfers at start: the plan, the store's side of a new upload, and the reply. */
interface Transfer<R> {
  transfer: UploadTransfer;
  plan: PartPlan;
  /** Makes the store's side of a new upload; its upload id ("" when there is none). */
  create(key: string, object: ObjectMetadata): Promise<string>;
  /** Undoes `create` when the start fails after it. */
  discard(key: string, uploadId: string): Promise<void>;
  /** The start's reply for the upload's record, with freshly signed URLs. */
  answer(record: UploadRecord, expiryHours: number | null | undefined): Promise<R>;
}

/** Claims the start's `Idempotency-Key`, or finds the upload an earlier start with it made. */
type KeyClaim = () => Promise<ClaimOutcome<UploadRecord>>;

/**
 * Starting an upload: the plan, the project's and the token's limits, the `Idempotency-Key`, the open-upload place,
 * the token's upload count, the duplicate-check reservation, the store's side of the upload and its record; a start
 * that fails leaves none of them behind.
 *
 * Two steps of store requests, one after the other: first every claim and the store's side of the upload at once
 * (the key, the token's place, the open-upload place, the hash, CreateMultipartUpload, and the expiry's window when
 * this process has not noted it yet), then the record. A plain start is 3 requests, 2 in sequence; each claim is one
 * more request in the first step (the token's count: two in sequence). A start that loses one claim undoes the
 * others: a refused start may cost a CreateMultipartUpload and its abort, never a place or a count.
 */
export class StartUpload {
  private readonly logger = new Logger("StartUpload");
  private readonly idempotency: IdempotencyLedger;
  private readonly tokenUploads: TokenUploads;

  constructor(
    private readonly storage: Storage,
    private readonly records: UploadRecords,
    private readonly openUploads: OpenUploads,
    private readonly duplicates: DuplicateCheck,
    private readonly urls: UploadUrls,
    private readonly lifecycle: StartLifecycle,
    private readonly nameObject: ObjectKeyNamer | null = null,
    private readonly expiries: ExpirySchedule | null = null,
  ) {
    this.idempotency = new IdempotencyLedger(storage);
    this.tokenUploads = new TokenUploads(storage);
  }

  /**
   * Starts a multipart upload. With an `idempotencyKey`, a start repeated with the same key and body (a retry whose
   * reply was lost) answers the upload the first one made, with freshly signed URLs for every part, instead of making
   * another. Started with an upload token (`by`), the upload must also meet the token's constraints, counts against
   * its `maxUploads`, and belongs to the token's owner.
   */
  async multipart(
    project: Project,
    body: StartUploadBody,
    idempotencyKey?: string,
    by?: Principal,
  ): Promise<StartUploadResult> {
    const planned = planParts(toByteCount(body.contentLength), body.partsNumber);
    if (!planned.ok) {
      // The contract's schema refuses these already; kept so the workflow is safe on its own.
      const [first, ...rest] = planned.problems.map((p): ErrorProblem => ({ code: "VALIDATION_FAILED", ...p }));
      throw new ApiError(first!, ...rest);
    }
    const token = by?.kind === "token" ? by : undefined;
    return this.start(project, body, startFingerprint(body, token?.owner), idempotencyKey, token, {
      transfer: "multipart",
      plan: planned.plan,
      create: (key, object) => this.storage.createMultipartUpload(key, object),
      discard: (key, uploadId) => this.storage.abortMultipartUpload(key, uploadId),
      answer: (record, expiryHours) =>
        this.urls.partsPlan(
          record,
          Array.from({ length: record.partsNumber }, (_, i) => i + 1),
          expiryHours,
        ),
    });
  }

  /**
   * Starts a single-PUT upload (`POST /url`): one presigned PUT of the whole file, bound to its size and type. The
   * same checks, limits, duplicate check and `Idempotency-Key` as a multipart start; the store holds nothing until the
   * PUT, and `POST success/{requestKey}` completes it (`UploadStateMachine.success`).
   */
  async singlePut(
    project: Project,
    body: SinglePutUploadBody,
    idempotencyKey?: string,
    by?: Principal,
  ): Promise<SinglePutUploadResult> {
    const token = by?.kind === "token" ? by : undefined;
    const contentLength = toByteCount(body.contentLength);
    const plan: PartPlan = { contentLength, partSize: contentLength, partsNumber: 1, lastPartSize: contentLength };
    // The transfer is part of the fingerprint: one key cannot answer a multipart start and a single PUT alike.
    const fingerprint = startFingerprint({ ...body, transfer: "single-put" }, token?.owner);
    return this.start(project, body, fingerprint, idempotencyKey, token, {
      transfer: "single-put",
      plan,
      create: () => Promise.resolve(""),
      discard: () => Promise.resolve(),
      answer: (record, expiryHours) => this.urls.singlePut(record, expiryHours),
    });
  }

  /** What every start does, whatever the transfer: the limits, then the `Idempotency-Key`, then the upload. */
  private async start<R extends { expiresAt: string }>(
    project: Project,
    body: StartFields,
    fingerprint: string,
    idempotencyKey: string | undefined,
    token: TokenPrincipal | undefined,
    transfer: Transfer<R>,
  ): Promise<R> {
    checkLimits(project, { kind: "project", id: project.id }, transfer.plan.contentLength, body.mimeType);
    if (token) checkLimits(token.constraints, { kind: "token" }, transfer.plan.contentLength, body.mimeType);
    const requestKey = newRequestKey();
    if (idempotencyKey === undefined) return this.create(project, body, requestKey, transfer, token);
    const claimKey: KeyClaim = () =>
      this.idempotency.claim(project.id, idempotencyKey, fingerprint, requestKey, (key) =>
        this.records.read(project.id, key),
      );
    if (!this.lifecycle.decidesStarts) return this.create(project, body, requestKey, transfer, token, claimKey);
    // A `beforeStart` hook is asked only for starts that make an upload: the key is claimed before it, on its own.
    const claim = await claimKey();
    if (!claim.claimed) return this.replay(claim.record, body, transfer);
    try {
      return await this.create(project, body, requestKey, transfer, token);
    } catch (error) {
      await bestEffort(this.logger, "release an Idempotency-Key after a failed start", claim.release);
      throw error;
    }
  }

  /** The answer to a start repeated with the `Idempotency-Key` of an earlier one: that upload, with fresh URLs. */
  private async replay<R extends { expiresAt: string }>(
    record: UploadRecord,
    body: StartFields,
    transfer: Transfer<R>,
  ): Promise<R> {
    const phase = phaseOf(record);
    if (phase !== "uploading") {
      throw new ApiError({
        code: "UPLOAD_NOT_IN_PROGRESS",
        field: "headers.idempotency-key",
        message: `started upload ${record.requestKey}, which is ${phase} now`,
      });
    }
    const replayed = await transfer.answer(record, body.presignedUrlExpiryTimeHours);
    await this.records.extendExpiry(record, replayed.expiresAt);
    return replayed;
  }

  /** Where an upload's object goes unless a `beforeStart` hook says otherwise: the app's naming function, or ours. */
  private defaultObjectKey(projectId: string, requestKey: string, body: StartFields): string {
    if (!this.nameObject) return objectKey(projectId, requestKey);
    const key = this.nameObject({ projectId, requestKey, fileName: body.fileName, mimeType: body.mimeType });
    const problem = typeof key === "string" ? objectKeyProblem(key, projectId) : "not a string";
    // The app's bug, not the client's: a 500, logged.
    if (problem) throw new Error(`The objectKey option returned an unusable key ${JSON.stringify(key)}: ${problem}`);
    return key;
  }

  private async create<R extends { expiresAt: string }>(
    project: Project,
    body: StartFields,
    requestKey: string,
    transfer: Transfer<R>,
    token: TokenPrincipal | undefined,
    claimKey?: KeyClaim,
  ): Promise<R> {
    const { plan } = transfer;
    // Before anything is stored: a refusal (or a naming function that throws) leaves nothing to clean up.
    const { objectKey: key, metadata } = await this.lifecycle.beforeStart({
      project,
      body,
      transfer: transfer.transfer,
      requestKey,
      objectKey: this.defaultObjectKey(project.id, requestKey, body),
    });
    const expiryHours = body.presignedUrlExpiryTimeHours ?? DEFAULT_URL_EXPIRY_HOURS;
    const urlsExpireAt = new Date(Date.now() + expiryHours * HOUR * 1000).toISOString();
    const fileHash = body.enableDuplicateCheck && body.fileHash ? body.fileHash : undefined;
    // Counted only for the token's starts that make an upload: not for a retry answered from its Idempotency-Key.
    const maxUploads = token?.constraints.maxUploads;
    const counted = token?.tokenId !== undefined && maxUploads !== undefined ? token.tokenId : undefined;

    // The first step: every claim, and the store's side of the upload, at once.
    const [keyClaim, tokenPlace, place, hash, upload, expiry] = await Promise.allSettled([
      claimKey?.(),
      counted !== undefined ? this.tokenUploads.take(project.id, counted, maxUploads!, token!.expiresAt) : undefined,
      this.openUploads.claim(project, requestKey, urlsExpireAt),
      fileHash ? this.duplicates.reserve(project.id, fileHash, requestKey) : undefined,
      transfer.create(key, objectMetadataOf({ ...body, requestKey })),
      this.expiries?.ensure(project.id, Date.parse(urlsExpireAt)),
    ]);
    // Leave nothing half-made behind: no orphaned multipart upload, no place, count or reservation blocking a retry.
    const undo = () =>
      bestEffort(this.logger, "clean up a failed start", async () => {
        await Promise.all([
          upload.status === "fulfilled" ? transfer.discard(key, upload.value) : undefined,
          place.status === "fulfilled" ? this.openUploads.giveBack(project.id, place.value, requestKey) : undefined,
          hash.status === "fulfilled" && fileHash
            ? this.duplicates.release(project.id, fileHash, requestKey)
            : undefined,
          tokenPlace.status === "fulfilled" && counted !== undefined
            ? this.tokenUploads.giveBack(project.id, counted)
            : undefined,
        ]);
        if (keyClaim.status === "fulfilled" && keyClaim.value?.claimed) await keyClaim.value.release();
      });
    // An earlier start with this key made the upload: answer that one, whatever else this one was refused (its own
    // place, hash or count are not the earlier upload's), giving back what it made meanwhile.
    if (keyClaim.status === "fulfilled" && keyClaim.value && !keyClaim.value.claimed) {
      const [, replayed] = await Promise.all([undo(), this.replay(keyClaim.value.record, body, transfer)]);
      return replayed;
    }
    // Else the first refusal in the order the checks are documented in: the key, the token, the place, the hash, the
    // store.
    const failed = [keyClaim, tokenPlace, place, hash, upload, expiry].find((r) => r.status === "rejected");
    if (failed) {
      await undo();
      throw failed.reason;
    }
    const uploadId = (upload as PromiseFulfilledResult<string>).value;
    const openSlot = (place as PromiseFulfilledResult<number>).value;

    try {
      const now = new Date().toISOString();
      const record: UploadRecord = {
        version: 1,
        projectId: project.id,
        requestKey,
        uploadId,
        ...(transfer.transfer === "multipart" ? {} : { transfer: transfer.transfer }),
        objectKey: key,
        fileName: body.fileName,
        mimeType: body.mimeType,
        contentLength: plan.contentLength,
        partSize: plan.partSize,
        partsNumber: plan.partsNumber,
        lastPartSize: plan.lastPartSize,
        metadata,
        ...(token ? { owner: token.owner } : {}),
        ...(fileHash ? { fileHash } : {}),
        openSlot,
        checks: contentRules(project, token, body.fileHash ?? undefined),
        state: "uploading",
        createdAt: now,
        updatedAt: now,
        completedAt: null,
        abortedAt: null,
        urlsExpireAt,
      };
      // The second step: the record. The reply's URLs (10,000 of them take tens of ms to sign) are signed meanwhile,
      // and handed out only once the record is stored.
      const [stored, answered] = await Promise.allSettled([
        this.records.create(record),
        transfer.answer(record, body.presignedUrlExpiryTimeHours),
      ]);
      if (stored.status === "rejected") throw stored.reason;
      if (answered.status === "rejected") throw answered.reason;
      await this.lifecycle.transitioned("upload.started", record);
      return answered.value;
    } catch (error) {
      await undo();
      throw error;
    }
  }
}

/** The rules the upload's stored bytes will be judged by: the project's and the token's, as they are at its start. */
function contentRules(project: Project, token: TokenPrincipal | undefined, fileHash: string | undefined): ContentRules {
  const constraints = token?.constraints;
  const durations = [project.maxDurationSeconds, constraints?.maxDurationSeconds].filter((d) => d !== undefined);
  const rules: ContentRules = {
    allowedMimeTypes: project.allowedMimeTypes,
    tokenAllowedMimeTypes: constraints?.allowedMimeTypes,
    maxDurationSeconds: durations.length > 0 ? Math.min(...durations) : undefined,
    requireMedia: project.requireMedia || constraints?.requireMedia ? true : undefined,
    verifyFileHash: project.verifyFileHash || undefined,
    quarantine: project.quarantine || undefined,
    expectedSha256: project.verifyFileHash ? fileHash : undefined,
  };
  // Undefined fields stay out of the stored JSON.
  return Object.fromEntries(Object.entries(rules).filter(([, value]) => value !== undefined));
}
