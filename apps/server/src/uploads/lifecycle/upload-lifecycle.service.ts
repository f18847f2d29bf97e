import { createHash } from "node:crypto";
import { Inject, Injectable, Logger, Optional } from "@nestjs/common";
import {
  ERROR_CODES,
  metadataSchema,
  type UploadEvent,
  type UploadEventType,
  type UploadMetadata,
} from "@upload-gateway/contract";
import { ApiError } from "../../errors/api-error";
import { objectKeyProblem } from "../upload-keys";
import type { UploadRecord } from "../upload-record";
import {
  UploadRefusedError,
  type BeforeStartContext,
  type UploadHookContext,
  type UploadLifecycleHooks,
} from "./upload-lifecycle.hooks";
import { METRICS, UPLOAD_EVENT_OUTBOX, UPLOAD_LIFECYCLE_HOOKS } from "../../tokens";
import type { GatewayMetrics } from "../../observability/metrics";

/** The hook that follows each event. */
const HOOK_OF = {
  "upload.started": "onStarted",
  "upload.completed": "onCompleted",
  "upload.aborted": "onAborted",
  "upload.expired": "onExpired",
  "upload.verified": "onVerified",
  "upload.rejected": "onRejected",
} as const satisfies Record<UploadEventType, keyof UploadLifecycleHooks>;

/**
 * Where the events are recorded for delivery (the webhooks' outbox, bound in gateway/lifecycle.module.ts): recording
 * is idempotent, one entry per event and target, and throws when the store fails.
 */
export interface UploadEventOutbox {
  record(event: UploadEvent): Promise<void>;
}

/**
 * Where the uploads service tells what happened to an upload: it asks `beforeStart` before making one, and reports
 * each winning transition once, which runs the hooks after it.
 */
@Injectable()
export class UploadLifecycle {
  private readonly logger = new Logger(UploadLifecycle.name);

  constructor(
    @Inject(UPLOAD_LIFECYCLE_HOOKS) private readonly hooks: UploadLifecycleHooks,
    @Inject(UPLOAD_EVENT_OUTBOX) private readonly webhooks: UploadEventOutbox,
    @Optional() @Inject(METRICS) private readonly metrics: GatewayMetrics | null = null,
  ) {}

  /** Whether a `beforeStart` hook decides starts: it is then asked only for starts that will make an upload. */
  get decidesStarts(): boolean {
    return this.hooks.beforeStart !== undefined;
  }

  /**
   * Runs the `beforeStart` hook: the object key and metadata the upload gets. A refusal becomes the client's 4xx;
   * anything else the hook throws, or a key or metadata it returns that the gateway cannot use, is a bug of the
   * embedding application: a 500, logged.
   */
  async beforeStart(context: BeforeStartContext): Promise<{ objectKey: string; metadata: UploadMetadata }> {
    const chosen = { objectKey: context.objectKey, metadata: context.body.metadata ?? {} };
    if (!this.hooks.beforeStart) return chosen;
    let decision;
    try {
      decision = await this.hooks.beforeStart(context);
    } catch (error) {
      if (error instanceof UploadRefusedError) {
        const { code, message, field } = error.problem;
        const status: number = ERROR_CODES[code]?.status ?? 500;
        if (status >= 400 && status < 500) throw new ApiError({ code, message, ...(field ? { field } : {}) });
        throw new Error(`beforeStart refused with ${String(code)}, which is not a 4xx code of the closed set`, {
          cause: error,
        });
      }
      throw error;
    }
    if (!decision) return chosen;
    if (decision.objectKey !== undefined) {
      const problem = objectKeyProblem(decision.objectKey, context.project.id);
      if (problem)
        throw new Error(`beforeStart returned an unusable objectKey ${JSON.stringify(decision.objectKey)}: ${problem}`);
      chosen.objectKey = decision.objectKey;
    }
    if (decision.metadata !== undefined) {
      const parsed = metadataSchema.safeParse(decision.metadata);
      if (!parsed.success) {
        throw new Error(
          `beforeStart returned unusable metadata: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
        );
      }
      chosen.metadata = parsed.data;
    }
    return chosen;
  }

  /**
   * A retried request found its transition made already (its first reply was lost, or its process died between the
   * transition and the event's record): makes sure the event is recorded for webhooks, without running hooks again.
   * Recording is idempotent (one outbox entry per event and URL); a delivery made already may be made once more.
   */
  async retried(type: UploadEventType, upload: UploadRecord): Promise<void> {
    await this.webhooks.record(uploadEventOf(type, upload));
  }

  /**
   * Reports a transition this request won (exactly once per upload and event): records the event for the project's
   * webhooks (before the client's reply: a storage failure here fails the request, whose retry records it), then runs
   * its hook. A hook that fails is logged and otherwise ignored: the transition stands, and the request succeeds.
   */
  async transitioned(type: UploadEventType, upload: UploadRecord): Promise<void> {
    this.metrics?.observeTransition(type, upload); // first: the transition stands even if recording its event fails
    const event = uploadEventOf(type, upload);
    await this.webhooks.record(event);
    const name = HOOK_OF[type];
    if (!this.hooks[name]) return;
    const context: UploadHookContext = { event, upload };
    try {
      await this.hooks[name](context);
    } catch (error) {
      this.logger.error(
        `The ${HOOK_OF[type]} hook failed for upload ${upload.requestKey} of project ${upload.projectId} (the ${type} transition stands): ${(error as Error)?.message ?? String(error)}`,
        (error as Error)?.stack,
      );
    }
  }
}

/**
 * The event of a transition. Its id and time are derived from the upload and the transition, so every replica and
 * every retry describes one event identically (receivers drop repeats by `id`).
 */
export function uploadEventOf(type: UploadEventType, upload: UploadRecord): UploadEvent {
  const verdict = type === "upload.verified" || type === "upload.rejected";
  const at =
    type === "upload.started"
      ? upload.createdAt
      : type === "upload.completed"
        ? upload.completedAt
        : verdict
          ? upload.verifiedAt
          : upload.abortedAt;
  const id = `evt_${createHash("sha256").update(`${upload.projectId}\n${upload.requestKey}\n${type}`).digest("hex").slice(0, 32)}`;
  return {
    id,
    type,
    createdAt: at ?? upload.updatedAt,
    data: {
      projectId: upload.projectId,
      requestKey: upload.requestKey,
      uploadId: upload.uploadId,
      fileName: upload.fileName,
      mimeType: upload.mimeType,
      size: upload.contentLength,
      metadata: upload.metadata ?? {},
      ...(verdict && upload.verification ? { verification: upload.verification } : {}),
    },
  };
}
