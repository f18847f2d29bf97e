import { Readable } from "node:stream";
import type { UploadEvent } from "@upload-gateway/contract";
import type { TokenPrincipal } from "../../src/auth/principal";
import type { Project } from "../../src/auth/projects-file";
import { ApiError } from "../../src/errors/api-error";
import { MemoryStorage, type MemoryStorageOptions } from "../../src/storage/memory.storage";
import type { Storage } from "../../src/storage/storage.port";
import { DueIndex } from "../../src/scheduling/due-index";
import { DuplicateCheck } from "../../src/uploads/duplicate-check";
import { ExpirySchedule } from "../../src/uploads/expiry-schedule";
import type { UploadLifecycleHooks } from "../../src/uploads/lifecycle/upload-lifecycle.hooks";
import { UploadLifecycle } from "../../src/uploads/lifecycle/upload-lifecycle.service";
import { OpenUploads } from "../../src/uploads/open-uploads";
import { StartUpload } from "../../src/uploads/start-upload";
import { openSlotPrefix, type ObjectKeyNamer } from "../../src/uploads/upload-keys";
import { UploadRecords } from "../../src/uploads/upload-records";
import { UploadStateMachine } from "../../src/uploads/upload-state-machine";
import { UploadUrls } from "../../src/uploads/upload-urls";
import { ContentVerification, type VerificationSettings } from "../../src/uploads/content-check/content-verification";
import type { ContentScanner } from "../../src/verification/scanner";

export const MiB = 1024 * 1024;

/**
 * The upload workflow's rooms wired as the gateway wires them (uploads.service.ts), on the in-memory store, with the
 * events recorded in an array instead of the webhooks' outbox.
 */
export interface Workflow {
  storage: Storage & MemoryStorage;
  records: UploadRecords;
  start: StartUpload;
  machine: UploadStateMachine;
  /** The content check, as a replica runs it (`worker.poll()` is its poller's pass). */
  verification: ContentVerification;
  /** Every event recorded for delivery, in order (a retried request records its event again). */
  events: UploadEvent[];
  /** The events whose hooks ran: each transition's winner only. */
  hooked: string[];
  project: Project;
}

export function workflow(
  options: {
    project?: Partial<Project>;
    hooks?: UploadLifecycleHooks;
    nameObject?: ObjectKeyNamer;
    store?: MemoryStorageOptions;
    /** Wraps the store (to make one of its calls fail). */
    wrap?: (storage: MemoryStorage) => Storage;
    /** The store of another workflow: two workflows on one store are two replicas. */
    memory?: MemoryStorage;
    /** Schedules expiries in the due index (windows of 5 minutes, a grace of an hour), as the gateway does. */
    expiries?: boolean;
    /** The open-upload places' clock (when a marker counts as leaked). */
    now?: () => number;
    /** Another replica: its own rooms on this workflow's store, events and hooks. */
    sharing?: Workflow;
    scanners?: ContentScanner[];
    verification?: Partial<VerificationSettings>;
  } = {},
): Workflow {
  const memory = options.memory ?? options.sharing?.storage ?? new MemoryStorage(options.store);
  const storage = (options.wrap ? options.wrap(memory) : memory) as Storage & MemoryStorage;
  const events: UploadEvent[] = [];
  const hooked: string[] = [];
  const record = (name: string) => () => void hooked.push(name);
  const hooks: UploadLifecycleHooks = {
    onStarted: record("upload.started"),
    onCompleted: record("upload.completed"),
    onAborted: record("upload.aborted"),
    onExpired: record("upload.expired"),
    onVerified: record("upload.verified"),
    onRejected: record("upload.rejected"),
    ...options.hooks,
  };
  const outbox = { record: (event: UploadEvent) => Promise.resolve(void events.push(event)) };
  const lifecycle = new UploadLifecycle(hooks, outbox, null);
  const expiries = options.expiries ? new ExpirySchedule(new DueIndex(storage), 300_000, 3_600_000) : null;
  const records = new UploadRecords(storage, expiries);
  const openUploads = new OpenUploads(storage, (projectId, key) => records.read(projectId, key), options.now);
  const duplicates = new DuplicateCheck(storage);
  const urls = new UploadUrls(storage, 600);
  const verification = new ContentVerification(
    storage,
    records,
    new DueIndex(storage),
    duplicates,
    openUploads,
    lifecycle,
    options.scanners ?? [],
    { waitMs: 10_000, leaseMs: 60_000, retryBaseMs: 50, retryMaxMs: 200, ...options.verification },
  );
  return {
    storage,
    records,
    start: new StartUpload(
      storage,
      records,
      openUploads,
      duplicates,
      urls,
      lifecycle,
      options.nameObject ?? null,
      expiries,
    ),
    machine: new UploadStateMachine(storage, records, openUploads, duplicates, urls, lifecycle, verification),
    verification,
    events,
    hooked,
    project: { id: "demo", ...options.project },
  };
}

/** A start body: one part of `size` bytes unless said otherwise. */
export function body(size = 1000, extra: Record<string, unknown> = {}) {
  return { partsNumber: 1, fileName: "clip.mp4", contentLength: String(size), mimeType: "video/mp4", ...extra };
}

/** An upload token of project `demo`. */
export function token(
  constraints: TokenPrincipal["constraints"] = {},
  owner = "user-1",
  tokenId = "tok-1",
): TokenPrincipal {
  return {
    kind: "token",
    issuer: "gateway",
    owner,
    tokenId,
    constraints,
    expiresAt: new Date(Date.now() + 3600_000),
    project: { id: "demo" },
  };
}

/** Stores part `partNumber` of an upload as its signed URL would (bytes `fill`, `size` of them), answering its ETag. */
export async function storePart(w: Workflow, requestKey: string, partNumber: number, size: number, fill = partNumber) {
  const record = await w.records.load(w.project.id, requestKey);
  const bytes = Buffer.alloc(size, fill);
  const stored = await w.storage.writePart(record.objectKey, record.uploadId, partNumber, Readable.from([bytes]), {
    expectedSize: size,
  });
  return stored.eTag;
}

/** Starts a multipart upload of `size` bytes in `parts` parts and stores every part; its request key and parts. */
export async function readyUpload(w: Workflow, size: number, parts = 1, extra: Record<string, unknown> = {}) {
  const started = await w.start.multipart(w.project, { ...body(size, extra), partsNumber: parts });
  const completeParts = [];
  for (let n = 1; n <= parts; n++) {
    const partSize = n < parts ? started.partSize : size - started.partSize * (parts - 1);
    completeParts.push({ partNumber: n, eTag: await storePart(w, started.requestKey, n, partSize) });
  }
  return { requestKey: started.requestKey, parts: completeParts };
}

/** The API error a promise rejects with: its problems' codes and the first one's status. */
export async function refusal(
  attempt: Promise<unknown>,
): Promise<{ status: number; codes: string[]; messages: string[] }> {
  try {
    await attempt;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return {
      status: error.status,
      codes: error.problems.map((p) => p.code),
      messages: error.problems.map((p) => p.message ?? ""),
    };
  }
  throw new Error("expected a refusal, but it succeeded");
}

/** The open-upload marker held by `requestKey` (whichever place it is in), or undefined when it holds none. */
export async function openMarkerOf(
  storage: Pick<Storage, "listKeys" | "readJson">,
  projectId: string,
  requestKey: string,
): Promise<unknown> {
  const { keys } = await storage.listKeys(openSlotPrefix(projectId), { limit: 1000 });
  for (const key of keys) {
    const marker = (await storage.readJson(key)) as { requestKey?: string } | undefined;
    if (marker?.requestKey === requestKey) return marker;
  }
  return undefined;
}
