import { createHash } from "node:crypto";
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from "@nestjs/common";
import { uploadEventSchema, type UploadEvent } from "@upload-gateway/contract";
import { z } from "zod";
import type { ProjectsFile } from "../auth/projects-file";
import type { AppConfig } from "../config/app-config";
import { APP_CONFIG, PROJECTS, METRICS, STORAGE, WEBHOOK_TARGETS } from "../tokens";
import type { GatewayMetrics } from "../observability/metrics";
import { scrubSecrets } from "../observability/redaction";
import { DueIndex, type ClaimedEntry } from "../scheduling/due-index";
import { DueWorker, type DueOutcome } from "../scheduling/due-worker";
import type { Storage } from "../storage/storage.port";
import { WebhookEndpoints, type WebhookTargetsOf } from "./webhook-endpoints";
import { sendWebhook, type SendResult } from "./webhook-sender";

/**
 * A delivery waiting in the store: the payload of its entry in the due index (kind `webhook`). The entry's id is fixed
 * by the project, the event and the URL, and its first due time by the event's time, so recording an event again (a
 * retried request) finds the entry there and makes no second one.
 */
const deliverySchema = z.object({
  event: uploadEventSchema,
  url: z.string(),
  recordedAt: z.number(),
  lastError: z.string().optional(),
});
type Delivery = z.infer<typeof deliverySchema>;

export const WEBHOOK_KIND = "webhook";
/** Deliveries this process makes at once. */
const CONCURRENCY = 4;
/** Entries one poll lists: the due ones among them are delivered in that poll. */
const PAGE = 100;

/** The due index's id of one event's delivery to one URL. */
function deliveryId(projectId: string, eventId: string, url: string): string {
  return `${projectId}:${createHash("sha256").update(`${eventId}\n${url}`, "utf8").digest("hex").slice(0, 40)}`;
}

/**
 * Signed webhooks, at least once: deliveries in the store's due index (scheduling/due-index.ts), shared by every
 * replica and kept across restarts.
 *
 * An event is recorded (one entry per subscribed URL, `If-None-Match: *`) as part of its transition, before the client
 * gets its reply, so nothing acknowledged is lost. Any replica may then deliver an entry: it claims it by a
 * compare-and-swap of the entry's version that sets a lease (of two replicas claiming one version, one wins), POSTs
 * it, and removes it on a 2xx or reschedules it at the next attempt (exponential backoff with jitter, for
 * WEBHOOK_RETRY_FOR_SECONDS). Each poll (every WEBHOOK_POLL_INTERVAL_SECONDS) is one LIST of the earliest entries,
 * whatever the number of projects, so a retry goes out at the first poll after it is due. A replica that dies
 * mid-delivery leaves a lease that runs out, and another one delivers again: receivers drop repeats by the event's `id`.
 */
@Injectable()
export class WebhookOutbox implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger("Webhooks");
  private readonly endpoints: WebhookEndpoints;
  private readonly index: DueIndex;
  readonly worker: DueWorker<Delivery>;

  constructor(
    @Inject(STORAGE) storage: Storage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(PROJECTS) projects: ProjectsFile | null,
    @Inject(METRICS) private readonly metrics: GatewayMetrics | null,
    @Optional() @Inject(WEBHOOK_TARGETS) targetsOf: WebhookTargetsOf | null = null,
  ) {
    this.endpoints = new WebhookEndpoints(projects, targetsOf);
    this.index = new DueIndex(storage);
    this.worker = new DueWorker(this.index, WEBHOOK_KIND, (entry) => this.deliver(entry), {
      // The lease outlasts the delivery's deadline, so that nobody else delivers it while this replica still may.
      leaseMs: this.config.WEBHOOK_TIMEOUT_SECONDS * 1000 + 15_000,
      concurrency: CONCURRENCY,
      pageSize: PAGE,
      onError: (ref, error) =>
        this.logger.warn(`A webhook delivery (${ref.id}) failed unexpectedly: ${(error as Error).message}`),
      onPollError: (error) =>
        this.logger.warn(`Could not look for due webhook deliveries: ${(error as Error).message}`),
    });
  }

  /**
   * Records an event for every URL of its project subscribed to it; a storage failure throws (the transition's
   * request then fails, and its retry records the event again). Delivery starts at once, in the background.
   */
  async record(event: UploadEvent): Promise<void> {
    const endpoints = await this.endpoints.of(event.data.projectId, event.type);
    if (endpoints.length === 0) return;
    const now = Date.now();
    const at = Date.parse(event.createdAt);
    const dueAt = Number.isFinite(at) ? Math.min(at, now) : now;
    const refs = await Promise.all(
      endpoints.map(({ url }) => {
        const delivery: Delivery = { event, url, recordedAt: now };
        return this.index.schedule(WEBHOOK_KIND, deliveryId(event.data.projectId, event.id, url), dueAt, delivery);
      }),
    );
    for (const ref of refs) this.worker.runNow(ref);
  }

  onApplicationBootstrap(): void {
    if (!this.endpoints.configured) return;
    this.worker.start(this.config.WEBHOOK_POLL_INTERVAL_SECONDS * 1000, 0);
  }

  async onApplicationShutdown(): Promise<void> {
    // Once stopped, neither the poll nor `record` starts another delivery; the ones already sent are waited for (at
    // most the delivery timeout), so that each is settled rather than left leased: a lease left by a clean stop would
    // hold the delivery back from the next process or replica for the timeout plus 15 s.
    await this.worker.stop();
  }

  /** Delivers one claimed entry: done on a 2xx, on giving up, or when its URL is gone; else due again later. */
  private async deliver(entry: ClaimedEntry<Delivery>): Promise<DueOutcome<Delivery>> {
    const parsed = deliverySchema.safeParse(entry.payload);
    if (!parsed.success) {
      this.logger.error(`Unreadable webhook delivery ${entry.key}: removed`);
      return { done: true };
    }
    const delivery = parsed.data;
    const projectId = delivery.event.data.projectId;
    const endpoint = (await this.endpoints.of(projectId)).find((w) => w.url === delivery.url);
    if (!endpoint) {
      this.logger.warn(
        `Webhook ${delivery.event.id} (${delivery.event.type}) dropped: ${scrubSecrets(delivery.url)} is no longer configured for project ${projectId}`,
      );
      this.metrics?.webhookDeliveries.inc({ project: projectId, outcome: "abandoned" });
      return { done: true };
    }
    const result = await sendWebhook(delivery.url, endpoint.secret, JSON.stringify(delivery.event), {
      allowPrivateNetworks: this.config.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      timeoutMs: this.config.WEBHOOK_TIMEOUT_SECONDS * 1000,
    });
    return this.settle(delivery, entry.attempts + 1, result);
  }

  private settle(delivery: Delivery, attempts: number, result: SendResult): DueOutcome<Delivery> {
    const projectId = delivery.event.data.projectId;
    // The URL's userinfo and query tokens stay out of the log, whichever logger the app has.
    const what = `webhook ${delivery.event.id} (${delivery.event.type}) to ${scrubSecrets(delivery.url)}`;
    if (result.ok) {
      this.metrics?.webhookDeliveries.inc({ project: projectId, outcome: "delivered" });
      return { done: true };
    }
    const now = Date.now();
    if (now - delivery.recordedAt >= this.config.WEBHOOK_RETRY_FOR_SECONDS * 1000) {
      this.metrics?.webhookDeliveries.inc({ project: projectId, outcome: "abandoned" });
      this.logger.error(`Gave up on ${what} after ${attempts} attempts: ${result.reason}`);
      return { done: true };
    }
    this.metrics?.webhookDeliveries.inc({ project: projectId, outcome: "failed" });
    const base = this.config.WEBHOOK_RETRY_BASE_SECONDS * 1000;
    const backoff = Math.min(base * 2 ** (attempts - 1), this.config.WEBHOOK_RETRY_MAX_SECONDS * 1000);
    const retryAt = now + backoff * (0.5 + Math.random() / 2); // jitter: receivers recovering are not stampeded
    this.logger.warn(
      `Could not deliver ${what} (attempt ${attempts}): ${result.reason}; next in ${Math.round((retryAt - now) / 1000)} s`,
    );
    return { retryAt, payload: { ...delivery, lastError: result.reason.slice(0, 500) } };
  }
}
