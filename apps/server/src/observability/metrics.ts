import type { UploadEventType } from "@upload-gateway/contract";
import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";
import { isOutage } from "./instrumented-storage";

/** What the metrics count of an upload that changed state (an upload record has these fields). */
export interface TransitionedUpload {
  projectId: string;
  contentLength: number;
  /** What the content check found (`upload.rejected`: its `code` labels the count). */
  verification?: { code?: string | undefined } | undefined;
}

/**
 * The gateway's Prometheus metrics, in a registry of its own (not prom-client's global one, so several apps in one
 * process, as in tests, do not collide). Process metrics (CPU, memory, event loop lag, handles) are included.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly uploadsStarted = this.counter("upload_gateway_uploads_started_total", "Uploads started", ["project"]);
  readonly uploadsCompleted = this.counter("upload_gateway_uploads_completed_total", "Uploads completed", ["project"]);
  readonly uploadsAborted = this.counter("upload_gateway_uploads_aborted_total", "Uploads aborted by a client", [
    "project",
  ]);
  readonly uploadsExpired = this.counter("upload_gateway_uploads_expired_total", "Uploads expired unfinished", [
    "project",
  ]);
  readonly uploadsVerified = this.counter(
    "upload_gateway_uploads_verified_total",
    "Uploads whose stored bytes passed the content check",
    ["project"],
  );
  readonly uploadsRejected = this.counter(
    "upload_gateway_uploads_rejected_total",
    "Uploads whose stored bytes failed the content check, by the rule that refused them",
    ["project", "code"],
  );
  readonly webhookDeliveries = this.counter(
    "upload_gateway_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered (2xx), failed (retried later), abandoned (after the retry period, or no longer configured)",
    ["project", "outcome"],
  );
  readonly bytesCompleted = this.counter("upload_gateway_bytes_completed_total", "Bytes of the uploads completed", [
    "project",
  ]);
  readonly requestDuration = new Histogram({
    name: "upload_gateway_request_duration_seconds",
    help: "HTTP request duration by route pattern, method and status",
    labelNames: ["route", "method", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [this.registry],
  });
  readonly storageDuration = new Histogram({
    name: "upload_gateway_storage_call_duration_seconds",
    help: "Storage port call duration by operation and outcome (ok, refused: an expected no, error: an outage)",
    labelNames: ["operation", "outcome"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly storageErrors = this.counter(
    "upload_gateway_storage_errors_total",
    "Storage port calls that failed with an outage",
    ["operation"],
  );
  readonly rateLimitStoreErrors = this.counter(
    "upload_gateway_rate_limit_store_errors_total",
    "Rate-limit checks the shared store (Redis) failed to answer in time: each request was let through uncounted",
    [],
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * The lifecycle's observer: each transition counted once, by the request or sweep that won it (a retried complete,
   * or a losing racer, counts nothing).
   */
  readonly observeTransition = (type: UploadEventType, upload: TransitionedUpload): void => {
    const project = upload.projectId;
    if (type === "upload.started") this.uploadsStarted.inc({ project });
    else if (type === "upload.aborted") this.uploadsAborted.inc({ project });
    else if (type === "upload.expired") this.uploadsExpired.inc({ project });
    else if (type === "upload.verified") this.uploadsVerified.inc({ project });
    else if (type === "upload.rejected") {
      this.uploadsRejected.inc({ project, code: upload.verification?.code ?? "UNKNOWN" });
    } else {
      this.uploadsCompleted.inc({ project });
      this.bytesCompleted.inc({ project }, upload.contentLength);
    }
  };

  /** The storage decorator's observer. */
  readonly observeStorage = (operation: string, seconds: number, error: unknown): void => {
    const outcome = error === undefined ? "ok" : isOutage(error) ? "error" : "refused";
    this.storageDuration.observe({ operation, outcome }, seconds);
    if (outcome === "error") this.storageErrors.inc({ operation });
  };

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
