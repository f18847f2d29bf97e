import { Inject, Injectable, Logger, Optional } from "@nestjs/common";
import {
  DEFAULT_LIST_LIMIT,
  DEFAULT_URL_EXPIRY_HOURS,
  partSizeOf,
  planParts,
  toByteCount,
  type CompleteUploadBody,
  type ErrorProblem,
  type ListUploadsResult,
  type PartPlan,
  type ResumeUploadResult,
  type SinglePutUploadBody,
  type SinglePutUploadResult,
  type StartUploadBody,
  type StartUploadResult,
  type StoredPart,
  type UploadDetails,
  type UploadTransfer,
} from "@upload-gateway/contract";
import type { Principal, TokenPrincipal } from "../auth/principal";
import type { Project } from "../auth/projects-file";
import { APP_CONFIG } from "../config/config.module";
import type { AppConfig } from "../config/app-config";
import { ApiError } from "../errors/api-error";
import {
  STORAGE,
  StorageError,
  type CompletedPart,
  type ObjectMetadata,
  type Storage,
  type StoredPartInfo,
} from "../storage/storage.port";
import {
  contentDisposition,
  hashReservationKey,
  isRequestKey,
  newRequestKey,
  OBJECT_KEY_NAMER,
  objectKey,
  objectKeyProblem,
  recordKey,
  recordPrefix,
  requestKeyOfRecord,
  type ObjectKeyNamer,
} from "./upload-keys";
import { IdempotencyLedger, startFingerprint } from "./idempotency-ledger";
import {
  isSinglePut,
  partsDigest,
  phaseOf,
  planOf,
  toDetails,
  toSummary,
  abortEventOf,
  isExpired,
  uploadRecordSchema,
  type UploadRecord,
} from "./upload-record";
import { unquoteETag } from "../storage/etag";
import { OpenUploads } from "./open-uploads";
import { headersNotSigned } from "./single-put-object";
import { TokenUploads } from "./token-uploads";
import { UploadLifecycle } from "../lifecycle/upload-lifecycle.service";

const HOUR = 3600;
/** How long a complete request that finds another one completing the same upload waits for its outcome. */
const COMPLETION_WAIT_MS = 15_000;
/** How often it looks. */
const COMPLETION_POLL_MS = 100;
/**
 * A completion started this long ago and not finished died with its process (stores assemble even 10,000 parts in
 * seconds): a complete request sent again then finishes it.
 */
const COMPLETION_STALE_MS = 120_000;
/** Compare-and-swap attempts before giving up; each failed one means another request changed the upload meanwhile. */
const MAX_SWAP_ATTEMPTS = 10;

/** The multipart upload workflow: plans, records and checks; the storage adapter does the storing. */
@Injectable()
export class UploadsService {
  private readonly logger = new Logger(UploadsService.name);

  private readonly openUploads: OpenUploads;
  private readonly idempotency: IdempotencyLedger;
  private readonly tokenUploads: TokenUploads;

  constructor(
    @Inject(STORAGE) private readonly storage: Storage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(UploadLifecycle) private readonly lifecycle: UploadLifecycle,
    @Optional() @Inject(OBJECT_KEY_NAMER) private readonly nameObject: ObjectKeyNamer | null = null,
  ) {
    this.openUploads = new OpenUploads(storage, async (projectId, requestKey) => {
      const record = await this.readRecord(projectId, requestKey);
      if (!record) return "missing";
      const phase = phaseOf(record);
      return phase === "uploading" || phase === "completing" ? "open" : "ended";
    });
    this.idempotency = new IdempotencyLedger(storage);
    this.tokenUploads = new TokenUploads(storage);
  }

  /**
   * Starts a multipart upload. With an `idempotencyKey`, a start repeated with the same key and body (a retry whose
   * reply was lost) answers the upload the first one made, with freshly signed URLs for every part, instead of making
   * another. Started with an upload token (`by`), the upload must also meet the token's constraints, counts against
   * its `maxUploads`, and belongs to the token's owner.
   */
  async start(project: Project, body: StartUploadBody, idempotencyKey?: string, by?: Principal): Promise<StartUploadResult> {
    const planned = planParts(toByteCount(body.contentLength), body.partsNumber);
    if (!planned.ok) {
      // The contract's schema refuses these already; kept so the service is safe on its own.
      const [first, ...rest] = planned.problems.map((p): ErrorProblem => ({ code: "VALIDATION_FAILED", ...p }));
      throw new ApiError(first!, ...rest);
    }
    const token = by?.kind === "token" ? by : undefined;
    return this.startUpload(project, body, startFingerprint(body, token?.owner), idempotencyKey, token, {
      transfer: "multipart",
      plan: planned.plan,
      create: (key, object) => this.storage.createMultipartUpload(key, object),
      discard: (key, uploadId) => this.storage.abortMultipartUpload(key, uploadId),
      answer: (record, expiryHours) =>
        this.signedPlan(record, Array.from({ length: record.partsNumber }, (_, i) => i + 1), expiryHours),
    });
  }

  /**
   * Starts a single-PUT upload (`POST /url`): one presigned PUT of the whole file, bound to its size and type. The
   * same checks, limits, duplicate check and `Idempotency-Key` as a multipart start; the store holds nothing until the
   * PUT, and `POST success/{requestKey}` completes it (`confirmSinglePut`).
   */
  async startSinglePut(
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
    return this.startUpload(project, body, fingerprint, idempotencyKey, token, {
      transfer: "single-put",
      plan,
      create: () => Promise.resolve(""),
      discard: () => Promise.resolve(),
      answer: (record, expiryHours) => this.signedSinglePut(record, expiryHours),
    });
  }

  /**
   * What every start does, whatever the transfer: the project's rules, the `Idempotency-Key`, the open-upload place,
   * the duplicate-check reservation, the store's side of the upload and its record; a failure leaves none of them
   * behind.
   */
  private async startUpload<R extends { expiresAt: string }>(
    project: Project,
    body: StartFields,
    fingerprint: string,
    idempotencyKey: string | undefined,
    token: TokenPrincipal | undefined,
    transfer: Transfer<R>,
  ): Promise<R> {
    this.checkProjectRules(project, transfer.plan.contentLength, body.mimeType);
    if (token) checkTokenConstraints(token, transfer.plan.contentLength, body.mimeType);
    const requestKey = newRequestKey();
    if (idempotencyKey === undefined) return this.createUpload(project, body, requestKey, transfer, token);
    const claim = await this.idempotency.claim(project.id, idempotencyKey, fingerprint, requestKey, (key) =>
      this.readRecord(project.id, key),
    );
    if (!claim.claimed) {
      const phase = phaseOf(claim.record);
      if (phase !== "uploading") {
        throw new ApiError({
          code: "UPLOAD_NOT_IN_PROGRESS",
          field: "headers.idempotency-key",
          message: `started upload ${claim.record.requestKey}, which is ${phase} now`,
        });
      }
      const replayed = await transfer.answer(claim.record, body.presignedUrlExpiryTimeHours);
      await this.extendExpiry(claim.record, replayed.expiresAt);
      return replayed;
    }
    try {
      return await this.createUpload(project, body, requestKey, transfer, token);
    } catch (error) {
      await this.bestEffort("release an Idempotency-Key after a failed start", claim.release);
      throw error;
    }
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

  private async createUpload<R>(
    project: Project,
    body: StartFields,
    requestKey: string,
    transfer: Transfer<R>,
    token: TokenPrincipal | undefined,
  ): Promise<R> {
    const { plan } = transfer;
    const contentLength = plan.contentLength;
    // Before anything is stored: a refusal (or a naming function that throws) leaves nothing to clean up.
    const { objectKey: key, metadata } = await this.lifecycle.beforeStart({
      project,
      body,
      transfer: transfer.transfer,
      requestKey,
      objectKey: this.defaultObjectKey(project.id, requestKey, body),
    });
    // Counted only for the token's starts that make an upload: not for a retry answered from its Idempotency-Key.
    const counted = token?.tokenId !== undefined && token.constraints.maxUploads !== undefined ? token.tokenId : undefined;
    if (counted !== undefined) await this.tokenUploads.take(project.id, counted, token!.constraints.maxUploads!, token!.expiresAt);
    const giveBackTokenPlace = async () => {
      if (counted !== undefined) await this.tokenUploads.giveBack(project.id, counted);
    };
    try {
      await this.openUploads.claim(project, requestKey);
    } catch (error) {
      await this.bestEffort("give back an upload token's place", giveBackTokenPlace);
      throw error;
    }
    const fileHash = body.enableDuplicateCheck && body.fileHash ? body.fileHash : undefined;
    if (fileHash) {
      try {
        await this.reserveHash(project.id, fileHash, requestKey);
      } catch (error) {
        await this.bestEffort("release an open upload's place", async () => {
          await this.openUploads.release(project.id, requestKey);
          await giveBackTokenPlace();
        });
        throw error;
      }
    }

    let uploadId: string | undefined;
    try {
      uploadId = await transfer.create(key, objectMetadataOf({ ...body, requestKey }));
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
        contentLength,
        partSize: plan.partSize,
        partsNumber: plan.partsNumber,
        lastPartSize: plan.lastPartSize,
        metadata,
        ...(token ? { owner: token.owner } : {}),
        ...(fileHash ? { fileHash } : {}),
        state: "uploading",
        createdAt: now,
        updatedAt: now,
        completedAt: null,
        abortedAt: null,
        urlsExpireAt: new Date(Date.now() + (body.presignedUrlExpiryTimeHours ?? DEFAULT_URL_EXPIRY_HOURS) * HOUR * 1000).toISOString(),
      };
      await this.storage.writeJson(recordKey(project.id, requestKey), record);
      const answer = await transfer.answer(record, body.presignedUrlExpiryTimeHours);
      await this.lifecycle.transitioned("upload.started", record);
      return answer;
    } catch (error) {
      // Leave nothing half-made behind: no orphaned multipart upload, no reservation blocking a retry.
      await this.bestEffort("clean up a failed start", async () => {
        if (uploadId !== undefined) await transfer.discard(key, uploadId);
        if (fileHash) await this.releaseHash(project.id, fileHash, requestKey);
        await this.openUploads.release(project.id, requestKey);
        await giveBackTokenPlace();
      });
      throw error;
    }
  }

  /**
   * Lets an upload token act only on the uploads its owner started: any other upload answers 404, as if it did not
   * exist (a token must not learn which request keys are in use). API keys act on every upload of the project.
   */
  async checkAccess(project: Project, requestKey: string, by: Principal): Promise<void> {
    if (by.kind === "apiKey") return;
    const record = isRequestKey(requestKey) ? await this.readRecord(project.id, requestKey) : undefined;
    if (record?.owner === undefined || record.owner !== by.owner) {
      throw new ApiError({ code: "UPLOAD_NOT_FOUND", field: "requestKey", message: "no such upload in this project" });
    }
  }

  /**
   * `uploading → completing → completed`. The request that swaps the record from `uploading` to `completing` (a
   * compare-and-swap on the record's version) has won the upload: an abort can no longer win, and it alone asks the
   * store to assemble the object. Requests that find it `completing` with the same parts wait for the outcome; with
   * other parts they get 409. Sent again once `completed`, with the same parts, it answers true.
   *
   * Why the record and not a separate claim object: the record is what every other request reads first, so one
   * read tells all of them who has won, and its version also orders later changes (expiry) without more objects.
   */
  async complete(project: Project, body: CompleteUploadBody): Promise<true> {
    const digest = partsDigest(body.parts);
    const waitUntil = Date.now() + COMPLETION_WAIT_MS;
    for (let swaps = 0; swaps < MAX_SWAP_ATTEMPTS; ) {
      const { record, version } = await this.loadVersioned(project.id, body.requestKey);
      if (isSinglePut(record)) throw notMultipart();
      const phase = phaseOf(record);
      if (phase === "completed") {
        if (record.completion && record.completion.partsDigest !== digest) {
          throw notInProgress(record, "the upload was completed with other parts");
        }
        // A retried complete whose first reply was lost: finish what it left.
        await this.lifecycle.retried("upload.completed", record);
        await this.afterCompleted(record);
        return true;
      }
      if (phase === "completing") {
        const completion = record.completion!;
        if (completion.partsDigest !== digest) throw notInProgress(record, "the upload is being completed with other parts");
        if (Date.now() - Date.parse(completion.startedAt) >= COMPLETION_STALE_MS) {
          return this.finishCompletion(record, quotedParts(body.parts));
        }
        if (Date.now() >= waitUntil) {
          throw notInProgress(record, "the upload is being completed by another request; send this one again later for its outcome");
        }
        await sleep(COMPLETION_POLL_MS);
        continue;
      }
      if (phase !== "uploading") throw notInProgress(record);

      let parts: CompletedPart[];
      try {
        parts = await this.checkCompletable(record, body.parts);
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
      if (!(await this.swapRecord(claimed, version))) {
        swaps++;
        continue; // another request changed the upload meanwhile: decide again on what it is now
      }
      return this.finishCompletion(claimed, parts);
    }
    throw contended();
  }

  /** `uploading → aborted`: the swap decides against a concurrent complete; then the store's upload is discarded. */
  async abort(project: Project, requestKey: string): Promise<true> {
    for (let swaps = 0; swaps < MAX_SWAP_ATTEMPTS; swaps++) {
      const { record, version } = await this.loadVersioned(project.id, requestKey);
      const phase = phaseOf(record);
      if (phase === "aborted") {
        // A retried abort whose first reply was lost: finish what it left.
        await this.lifecycle.retried(abortEventOf(record), record);
        await this.afterAborted(record);
        return true;
      }
      if (phase !== "uploading") throw notInProgress(record, phase === "completing" ? "the upload is being completed" : undefined);
      const now = new Date().toISOString();
      const aborted: UploadRecord = { ...record, state: "aborted", abortedAt: now, updatedAt: now, abortedBy: "client" };
      if (await this.swapRecord(aborted, version)) {
        await this.lifecycle.transitioned("upload.aborted", aborted);
        await this.afterAborted(aborted);
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
      const found = await this.readVersioned(projectId, requestKey);
      if (!found || phaseOf(found.record) !== "uploading" || !isExpired(found.record, graceSeconds)) return false;
      const now = new Date().toISOString();
      const expired: UploadRecord = { ...found.record, state: "aborted", abortedAt: now, updatedAt: now, abortedBy: "expiry" };
      if (await this.swapRecord(expired, found.version)) {
        await this.lifecycle.transitioned("upload.expired", expired);
        await this.afterAborted(expired);
        return true;
      }
    }
    return false; // contended: the next sweep looks again
  }

  /** Every project that has had an upload in this store, whichever replica started it (the expiry sweep's list). */
  projectsWithUploads(): AsyncIterable<string> {
    return this.openUploads.projects.projectIds();
  }

  /** The request keys of a project's uploads in progress, oldest last. */
  uploadsInProgress(projectId: string): AsyncIterable<string> {
    return this.openUploads.requestKeys(projectId);
  }

  /** Pushes the record's `urlsExpireAt` to `expiresAt` when URLs valid that long were just handed out. */
  private async extendExpiry(record: UploadRecord, expiresAt: string): Promise<void> {
    if (record.urlsExpireAt !== undefined && record.urlsExpireAt >= expiresAt) return;
    await this.updateRecord(record, (current) =>
      phaseOf(current) !== "uploading" || (current.urlsExpireAt !== undefined && current.urlsExpireAt >= expiresAt)
        ? undefined
        : { ...current, urlsExpireAt: expiresAt },
    );
  }

  /**
   * Checks the parts of a complete request against the store's listing and the plan: every part stored with the
   * listed eTag and the planned size, and all of them together exactly `contentLength`. Returns the parts to complete
   * with, ascending, with the store's eTags.
   */
  private async checkCompletable(record: UploadRecord, requested: CompleteUploadBody["parts"]): Promise<CompletedPart[]> {
    const listed = checkListedParts(record, requested);
    const storedByNumber = new Map((await this.listStoredParts(record)).map((p) => [p.partNumber, p]));
    const plan = planOf(record);
    const problems: ErrorProblem[] = [];
    requested.forEach((part, index) => {
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
    const total = listed.reduce((sum, p) => sum + storedByNumber.get(p.partNumber)!.size, 0);
    if (total !== record.contentLength) {
      // Unreachable while every part has its planned size; kept so that a wrong plan can never complete either.
      throw new ApiError({
        code: "PART_SIZE_MISMATCH",
        field: "parts",
        message: `the parts add up to ${total} bytes but the upload is ${record.contentLength}`,
      });
    }
    return listed.map((p) => ({ partNumber: p.partNumber, eTag: storedByNumber.get(p.partNumber)!.eTag }));
  }

  /**
   * Has the store assemble the object of an upload this request won (or took over), then records it `completed`.
   * Safe to run again after a crash or alongside a takeover: a store that no longer has the multipart upload but has
   * the object at its full size completed it already.
   */
  private async finishCompletion(record: UploadRecord, parts: CompletedPart[]): Promise<true> {
    try {
      await this.storage.completeMultipartUpload(record.objectKey, record.uploadId, parts);
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      if (error.reason === "upload-not-found") {
        if ((await this.storage.objectSize(record.objectKey)) !== record.contentLength) {
          throw new ApiError({ code: "UPLOAD_NOT_FOUND", field: "requestKey", message: "the upload no longer exists in storage" });
        }
      } else if (error.reason === "unavailable") {
        throw error; // the record stays `completing`: sending the request again finishes it
      } else {
        // The store refused the parts (one was sent again since they were checked): the upload is open again.
        await this.releaseCompletion(record);
        throw error;
      }
    }
    const { record: completed, changed } = await this.updateRecord(record, (current) => {
      if (phaseOf(current) === "completed") return undefined;
      const now = new Date().toISOString();
      return { ...current, state: "completed", completedAt: now, updatedAt: now };
    });
    // Only the request whose swap made it `completed` reports it: a takeover racing this one finds it done.
    if (changed) await this.lifecycle.transitioned("upload.completed", completed);
    await this.afterCompleted(completed);
    return true;
  }

  /** Undoes a complete request's claim whose parts the store refused, so the client can send parts and complete again. */
  private async releaseCompletion(claimed: UploadRecord): Promise<void> {
    await this.bestEffort("reopen an upload whose completion failed", async () => {
      await this.updateRecord(claimed, (current) => {
        if (phaseOf(current) !== "completing" || current.completion?.partsDigest !== claimed.completion?.partsDigest) {
          return undefined;
        }
        const { completion: _released, ...rest } = current;
        return { ...rest, updatedAt: new Date().toISOString() };
      });
    });
  }

  /** What follows `completed`: the upload no longer counts as open. Idempotent. Its hash reservation stays. */
  private async afterCompleted(record: UploadRecord): Promise<void> {
    await this.openUploads.release(record.projectId, record.requestKey);
  }

  /**
   * What follows `aborted`: the store discards the parts (a single-PUT upload's object), the hash and the open place
   * are released. Idempotent. A single-PUT URL cannot be revoked (S3 presigned URLs cannot): a PUT arriving after the
   * abort stores an object that no call hands out, and an abort sent again removes it.
   */
  private async afterAborted(record: UploadRecord): Promise<void> {
    try {
      // A single-PUT upload has no multipart upload: its object, if the PUT came, is the upload's data.
      if (isSinglePut(record)) await this.storage.deleteObject(record.objectKey);
      else await this.storage.abortMultipartUpload(record.objectKey, record.uploadId);
    } catch (error) {
      if (!(error instanceof StorageError && error.reason === "upload-not-found")) throw error;
    }
    if (record.fileHash) await this.releaseHash(record.projectId, record.fileHash, record.requestKey);
    await this.openUploads.release(record.projectId, record.requestKey);
  }

  async resume(
    project: Project,
    requestKey: string,
    expiryHours: number | null | undefined,
  ): Promise<ResumeUploadResult> {
    const record = await this.loadRecord(project.id, requestKey);
    if (isSinglePut(record)) throw notMultipart();
    const phase = phaseOf(record);
    if (phase !== "uploading") throw notInProgress(record, phase === "completing" ? "the upload is being completed" : undefined);
    const uploadedParts = usableParts(record, await this.listStoredParts(record));
    const done = new Set(uploadedParts.map((p) => p.partNumber));
    const missing = Array.from({ length: record.partsNumber }, (_, i) => i + 1).filter((n) => !done.has(n));
    const signed = await this.signedPlan(record, missing, expiryHours);
    await this.extendExpiry(record, signed.expiresAt);
    return { ...signed, uploadedParts };
  }

  /** `POST success/{requestKey}`: a download URL of a completed upload; completes a single-PUT upload first. */
  async downloadUrl(project: Project, requestKey: string): Promise<{ downloadPath: string; expiresAt: string }> {
    let record = await this.loadRecord(project.id, requestKey);
    if (isSinglePut(record) && record.state === "uploading") record = await this.confirmSinglePut(record);
    if (record.state !== "completed") {
      throw new ApiError({
        code: "UPLOAD_NOT_COMPLETED",
        field: "requestKey",
        message: `the upload is ${record.state}, not completed`,
      });
    }
    const expiresIn = this.config.DOWNLOAD_URL_EXPIRY_SECONDS;
    // The download answers with the type and name the upload declared and no caching by shared caches, whatever its
    // PUT sent (a single PUT's type is not signed, its request names no file, and S3 keeps its Cache-Control).
    const options = { contentType: record.mimeType, contentDisposition: contentDisposition(record.fileName), cacheControl: "private" };
    return {
      downloadPath: await this.storage.presignDownload(record.objectKey, expiresIn, options),
      expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
    };
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
    const { record: completed, changed } = await this.updateRecord(record, (current) => {
      if (phaseOf(current) !== "uploading") return undefined;
      const now = new Date().toISOString();
      return { ...current, state: "completed", completedAt: now, updatedAt: now };
    });
    if (changed) await this.lifecycle.transitioned("upload.completed", completed);
    else if (completed.state === "completed") await this.lifecycle.retried("upload.completed", completed);
    if (completed.state === "completed") await this.afterCompleted(completed);
    return completed;
  }

  async details(project: Project, requestKey: string): Promise<UploadDetails> {
    const record = await this.loadRecord(project.id, requestKey);
    // A single-PUT upload has no parts to list: the store holds its object or nothing.
    const parts =
      record.state === "uploading" && !isSinglePut(record) ? usableParts(record, await this.listStoredParts(record, true)) : [];
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

  private async signedSinglePut(record: UploadRecord, expiryHours: number | null | undefined): Promise<SinglePutUploadResult> {
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
    return (await this.readVersioned(projectId, requestKey))?.record;
  }

  private async readVersioned(
    projectId: string,
    requestKey: string,
  ): Promise<{ record: UploadRecord; version: string } | undefined> {
    const document = await this.storage.readDocument(recordKey(projectId, requestKey));
    if (document === undefined) return undefined;
    const parsed = uploadRecordSchema.safeParse(document.value);
    if (!parsed.success || parsed.data.projectId !== projectId) {
      this.logger.error(`Unreadable upload record ${recordKey(projectId, requestKey)}`);
      return undefined;
    }
    return { record: parsed.data, version: document.version };
  }

  private async loadRecord(projectId: string, requestKey: string): Promise<UploadRecord> {
    return (await this.loadVersioned(projectId, requestKey)).record;
  }

  private async loadVersioned(projectId: string, requestKey: string): Promise<{ record: UploadRecord; version: string }> {
    const found = isRequestKey(requestKey) ? await this.readVersioned(projectId, requestKey) : undefined;
    if (!found) {
      throw new ApiError({ code: "UPLOAD_NOT_FOUND", field: "requestKey", message: "no such upload in this project" });
    }
    return found;
  }

  /** Writes `record` only if the stored record is still at `version`; false when another request changed it. */
  private swapRecord(record: UploadRecord, version: string): Promise<boolean> {
    return this.storage.writeJson(recordKey(record.projectId, record.requestKey), record, { ifMatch: version });
  }

  /**
   * Applies `change` to the stored record by compare-and-swap, reading it again after each lost swap. `change` returns
   * undefined when there is nothing to do (the record returned is then the stored one, and `changed` false).
   */
  private async updateRecord(
    of: UploadRecord,
    change: (current: UploadRecord) => UploadRecord | undefined,
  ): Promise<{ record: UploadRecord; changed: boolean }> {
    for (let swaps = 0; swaps < MAX_SWAP_ATTEMPTS; swaps++) {
      const { record, version } = await this.loadVersioned(of.projectId, of.requestKey);
      const next = change(record);
      if (next === undefined) return { record, changed: false };
      if (await this.swapRecord(next, version)) return { record: next, changed: true };
    }
    throw contended();
  }

  private async listStoredParts(record: UploadRecord, missingIsEmpty = false): Promise<StoredPartInfo[]> {
    try {
      return await this.storage.listParts(record.objectKey, record.uploadId);
    } catch (error) {
      if (error instanceof StorageError && error.reason === "upload-not-found") {
        if (missingIsEmpty) return [];
        // Most often a concurrent request has just completed or aborted it: say so, as if it had come first.
        const now = await this.readRecord(record.projectId, record.requestKey);
        if (now && phaseOf(now) !== "uploading") throw notInProgress(now);
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

function notMultipart(): ApiError {
  return new ApiError({
    code: "NOT_A_MULTIPART_UPLOAD",
    field: "requestKey",
    message: "names a single-PUT upload (POST /url): PUT the file to its URL, then call POST success/{requestKey}",
  });
}

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

/**
 * What the store keeps with an upload's object, whichever the transfer: its type, its name (as the download's
 * disposition, and URI-encoded as `file-name` metadata: S3 metadata travels in headers) and its request key.
 */
function objectMetadataOf(upload: { fileName: string; mimeType: string; requestKey: string }): ObjectMetadata {
  return {
    contentType: upload.mimeType,
    contentDisposition: contentDisposition(upload.fileName),
    metadata: { "file-name": encodeURIComponent(upload.fileName), "request-key": upload.requestKey },
  };
}

function notInProgress(record: UploadRecord, message = `the upload is ${record.state}`): ApiError {
  return new ApiError({ code: "UPLOAD_NOT_IN_PROGRESS", field: "requestKey", message });
}

/** The record kept changing under every attempt to change it: a storm of requests on one upload; worth a retry. */
function contended(): StorageError {
  return new StorageError("unavailable", "the upload's record changed under every attempt to update it");
}

/** A client's parts with their eTags quoted the way stores list them. */
function quotedParts(parts: CompleteUploadBody["parts"]): CompletedPart[] {
  return [...parts]
    .sort((a, b) => a.partNumber - b.partNumber)
    .map((p) => ({ partNumber: p.partNumber, eTag: `"${unquoteETag(p.eTag)}"` }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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


/** An upload token's own limits, checked after the project's (a token can only narrow them). */
function checkTokenConstraints(token: TokenPrincipal, contentLength: number, mimeType: string): void {
  const { maxFileSize, allowedMimeTypes } = token.constraints;
  const problems: ErrorProblem[] = [];
  if (maxFileSize !== undefined && contentLength > maxFileSize) {
    problems.push({
      code: "FILE_TOO_LARGE",
      field: "contentLength",
      message: `is ${contentLength} bytes; this upload token allows at most ${maxFileSize}`,
    });
  }
  if (allowedMimeTypes && !allowedMimeTypes.some((allowed) => mimeMatches(allowed, mimeType))) {
    problems.push({
      code: "MIME_TYPE_NOT_ALLOWED",
      field: "mimeType",
      message: `${mimeType} is not allowed by this upload token (allowed: ${allowedMimeTypes.join(", ")})`,
    });
  }
  if (problems.length > 0) throw new ApiError(problems[0]!, ...problems.slice(1));
}

function mimeMatches(allowed: string, mimeType: string): boolean {
  const a = allowed.toLowerCase();
  const m = mimeType.toLowerCase();
  return a === "*/*" || a === m || (a.endsWith("/*") && m.startsWith(a.slice(0, -1)));
}
