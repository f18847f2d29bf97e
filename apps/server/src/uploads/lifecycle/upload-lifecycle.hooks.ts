import type {
  ERROR_CODES,
  ErrorCode,
  SinglePutUploadBody,
  StartUploadBody,
  UploadTransfer,
  UploadEvent,
  UploadMetadata,
} from "@upload-gateway/contract";
import type { Project } from "../../auth/projects-file";
import type { UploadRecord } from "../upload-record";

/** What a `beforeStart` hook is asked about: a start the gateway has validated and is about to make. */
export interface BeforeStartContext {
  project: Project;
  /** The validated start body (`metadata` as the client sent it): a multipart start's, or a single PUT's (`POST /url`). */
  body: StartUploadBody | SinglePutUploadBody;
  transfer: UploadTransfer;
  /** The key the upload will be known by. */
  requestKey: string;
  /** Where the object will be stored unless the hook says otherwise (`projects/{projectId}/files/{requestKey}`). */
  objectKey: string;
}

/** A `beforeStart` hook's changes to the upload it lets start; omitted fields stay as they were. */
export interface BeforeStartDecision {
  /**
   * The storage key of the object (1–1024 bytes of `A-Z a-z 0-9 ! - _ . * ' ( )` in `/`-separated segments; not under
   * the gateway's own `projects/` prefix, except `projects/{projectId}/files/`). Make it unique per upload (include the
   * request key): two uploads completed to one key leave the last one.
   */
  objectKey?: string;
  /** Replaces the client's metadata (same limits as the start's `metadata`). */
  metadata?: UploadMetadata;
}

/** What the hooks after a transition receive: the event (as webhooks deliver it) and the upload's record after it. */
export interface UploadHookContext {
  event: UploadEvent;
  upload: UploadRecord;
}

type Awaitable<T> = T | Promise<T>;

/**
 * In-process hooks into every upload's life, for applications that embed the gateway. `beforeStart` runs before an
 * upload is made and may refuse it (throw an `UploadRefusedError`) or choose its object key and metadata. The others run
 * once, after the transition they name has won (never for a retried request that finds it done); they cannot undo
 * it, and a hook that throws is logged, not answered to the client. The gateway awaits them before it replies.
 */
export interface UploadLifecycleHooks {
  beforeStart?(context: BeforeStartContext): Awaitable<BeforeStartDecision | undefined | void>;
  onStarted?(context: UploadHookContext): Awaitable<void>;
  onCompleted?(context: UploadHookContext): Awaitable<void>;
  onAborted?(context: UploadHookContext): Awaitable<void>;
  onExpired?(context: UploadHookContext): Awaitable<void>;
  /** The stored bytes passed the content check (`context.event.data.verification`). */
  onVerified?(context: UploadHookContext): Awaitable<void>;
  /** The stored bytes failed the content check: the upload is `rejected`, its object removed or quarantined. */
  onRejected?(context: UploadHookContext): Awaitable<void>;
}

/** Error codes a hook may refuse a start with: the closed set's 4xx codes. */
export type RefusalCode = {
  [C in ErrorCode]: (typeof ERROR_CODES)[C]["status"] extends 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429
    ? C
    : never;
}[ErrorCode];

/** Thrown by a `beforeStart` hook to refuse the start: the client gets the code's status and this problem in the envelope. */
export class UploadRefusedError extends Error {
  override name = "UploadRefusedError";
  constructor(readonly problem: { code: RefusalCode; message: string; field?: string }) {
    super(problem.message);
  }
}
