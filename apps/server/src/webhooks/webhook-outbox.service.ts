import { randomUUID } from "node:crypto";
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
import { SweepLoop } from "../scheduling/sweep-loop";
import type { Storage } from "../storage/storage.port";
import { webhookOutboxKey, webhookOutboxPrefix } from "../uploads/upload-keys";
import { WebhookEndpoints, type WebhookTargetsOf } from "./webhook-endpoints";
import { sendWebhook, type SendResult } from "./webhook-sender";

/**
 * A delivery waiting in the store. Its key is fixed by the event and the URL, so recording an event again (a retried
 * request) cannot make a second one; `lease` says which replica is delivering it until when.
 */
const outboxEntrySchema = z.object({
  event: uploadEventSchema,
  url: z.string(),
  attempts: z.number().int(),
  recordedAt: z.number(),
  nextAttemptAt: z.number(),
  lease: z.object({ owner: z.string(), until: z.number() }).optional(),
  lastError: z.string().optional(),
});
type OutboxEntry = z.infer<typeof outboxEntrySchema>;

/** Deliveries this process makes at once. */
const CONCURRENCY = 4;
/** Keys read per project per sweep; the next sweep reads on from there, so every delivery gets its turn. */
const PAGE = 100;

/**
 * Signed webhooks, at least once: an outbox in the store, shared by every replica and kept across restarts.
 *
 * An event is recorded (one entry per subscribed URL, `If-None-Match: *`) as part of its transition, before the client
 * gets its reply, so nothing acknowledged is lost. Any replica may then deliver an entry: it claims it by a
 * compare-and-swap of the entry's version that sets a lease (of two replicas claiming one version, one wins), POSTs
 * it, and deletes it on a 2xx or records the failure and the next attempt (exponential backoff with jitter, for
 * WEBHOOK_RETRY_FOR_SECONDS). A replica that dies mid-delivery leaves a lease that expires, and another one delivers
 * again: receivers drop repeats by the event's `id`.
 */
@Injectable()
export class WebhookOutbox implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger("Webhooks");
  private readonly owner = randomUUID();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly claimed = new Set<string>();
  private readonly loop: SweepLoop;
  private readonly endpoints: WebhookEndpoints;
  /** Per project, the last outbox key the previous sweep read, when more followed it. */
  private readonly sweptUpTo = new Map<string, string>();

  constructor(
    @Inject(STORAGE) private readonly storage: Storage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(PROJECTS) projects: ProjectsFile | null,
    @Inject(METRICS) private readonly metrics: GatewayMetrics | null,
    @Optional() @Inject(WEBHOOK_TARGETS) targetsOf: WebhookTargetsOf | null = null,
  ) {
    this.endpoints = new WebhookEndpoints(projects, targetsOf, storage);
    this.loop = new SweepLoop(() => this.sweep(), this.config.WEBHOOK_POLL_INTERVAL_SECONDS * 1000);
  }

  /**
   * Records an event for every URL of its project subscribed to it; a storage failure throws (the transition's
   * request then fails, and its retry records the event again). Delivery starts at once, in the background.
   */
  async record(event: UploadEvent): Promise<void> {
    const endpoints = await this.endpoints.of(event.data.projectId, event.type);
    if (endpoints.length === 0) return;
    const now = Date.now();
    const keys = await Promise.all(
      endpoints.map(async ({ url }) => {
        const key = webhookOutboxKey(event.data.projectId, event.id, url);
        const entry: OutboxEntry = { event, url, attempts: 0, recordedAt: now, nextAttemptAt: now };
        await this.storage.writeJson(key, entry, { ifNoneMatch: true }); // false: recorded already
        return key;
      }),
    );
    for (const key of keys) this.track(() => this.deliver(key));
  }

  onApplicationBootstrap(): void {
    if (!this.endpoints.configured) return;
    this.loop.start(0);
  }

  async onApplicationShutdown(): Promise<void> {
    // Once stopped, neither the sweep nor `record` starts another delivery; the ones already sent are waited for (at
    // most the delivery timeout), so that each is settled rather than left leased: a lease left by a clean stop would
    // hold the delivery back from the next process or replica for the timeout plus 15 s.
    await Promise.allSettled([this.loop.stop(), ...this.inFlight]);
  }

  /** Looks for due deliveries of every project with webhooks (left by a failure, a restart or another replica). */
  private async sweep(): Promise<void> {
    let projectIds: string[];
    try {
      projectIds = await this.endpoints.projectIds();
    } catch (error) {
      this.logger.warn(`Could not list the projects to look for webhook deliveries in: ${(error as Error).message}`);
      return;
    }
    for (const projectId of projectIds) {
      if (this.loop.stopped) return;
      try {
        const startAfter = this.sweptUpTo.get(projectId);
        const page = await this.storage.listKeys(webhookOutboxPrefix(projectId), {
          limit: PAGE,
          ...(startAfter ? { startAfter } : {}),
        });
        // Deliveries backing off must not hide the others: past a full page, the next sweep reads on (then from the start).
        if (page.isTruncated && page.keys.length > 0) this.sweptUpTo.set(projectId, page.keys.at(-1)!);
        else this.sweptUpTo.delete(projectId);
        const queue = page.keys.filter((key) => !this.claimed.has(key));
        const workers = Array.from({ length: CONCURRENCY }, async () => {
          for (let key = queue.shift(); key !== undefined && !this.loop.stopped; key = queue.shift())
            await this.deliver(key);
        });
        await Promise.all(workers);
      } catch (error) {
        this.logger.warn(`Could not look for webhook deliveries of project ${projectId}: ${(error as Error).message}`);
      }
    }
  }

  private track(work: () => Promise<void>): void {
    const running = work().catch((error: unknown) => {
      this.logger.warn(`A webhook delivery failed unexpectedly: ${(error as Error).message}`);
    });
    this.inFlight.add(running);
    void running.finally(() => this.inFlight.delete(running));
  }

  /** Claims one entry if it is due and nobody holds it, delivers it, and deletes or reschedules it. */
  private async deliver(key: string): Promise<void> {
    if (this.claimed.has(key) || this.loop.stopped) return;
    this.claimed.add(key);
    try {
      const document = await this.storage.readDocument(key);
      if (!document) return;
      const parsed = outboxEntrySchema.safeParse(document.value);
      if (!parsed.success) {
        this.logger.error(`Unreadable webhook delivery ${key}: removed`);
        await this.storage.deleteObject(key);
        return;
      }
      const entry = parsed.data;
      const now = Date.now();
      if (entry.nextAttemptAt > now || (entry.lease && entry.lease.until > now)) return;
      const projectId = entry.event.data.projectId;
      const endpoint = (await this.endpoints.of(projectId)).find((w) => w.url === entry.url);
      if (!endpoint) {
        this.logger.warn(
          `Webhook ${entry.event.id} (${entry.event.type}) dropped: ${scrubSecrets(entry.url)} is no longer configured for project ${projectId}`,
        );
        this.metrics?.webhookDeliveries.inc({ project: projectId, outcome: "abandoned" });
        await this.storage.deleteObject(key);
        return;
      }
      const timeoutMs = this.config.WEBHOOK_TIMEOUT_SECONDS * 1000;
      const token = `${this.owner}:${randomUUID()}`;
      // The lease outlasts the delivery's deadline, so that nobody else delivers it while this replica still may.
      const lease = { owner: token, until: now + timeoutMs + 15_000 };
      if (!(await this.storage.writeJson(key, { ...entry, lease }, { ifMatch: document.version }))) return; // another replica has it

      const result = await sendWebhook(entry.url, endpoint.secret, JSON.stringify(entry.event), {
        allowPrivateNetworks: this.config.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
        timeoutMs,
      });
      await this.settle(key, entry, token, result);
    } finally {
      this.claimed.delete(key);
    }
  }

  private async settle(key: string, entry: OutboxEntry, token: string, result: SendResult): Promise<void> {
    const projectId = entry.event.data.projectId;
    // The URL's userinfo and query tokens stay out of the log, whichever logger the app has.
    const what = `webhook ${entry.event.id} (${entry.event.type}) to ${scrubSecrets(entry.url)}`;
    if (result.ok) {
      this.metrics?.webhookDeliveries.inc({ project: projectId, outcome: "delivered" });
      await this.storage.deleteObject(key);
      return;
    }
    const attempts = entry.attempts + 1;
    const now = Date.now();
    if (now - entry.recordedAt >= this.config.WEBHOOK_RETRY_FOR_SECONDS * 1000) {
      this.metrics?.webhookDeliveries.inc({ project: projectId, outcome: "abandoned" });
      this.logger.error(`Gave up on ${what} after ${attempts} attempts: ${result.reason}`);
      await this.storage.deleteObject(key);
      return;
    }
    this.metrics?.webhookDeliveries.inc({ project: projectId, outcome: "failed" });
    const base = this.config.WEBHOOK_RETRY_BASE_SECONDS * 1000;
    const backoff = Math.min(base * 2 ** (attempts - 1), this.config.WEBHOOK_RETRY_MAX_SECONDS * 1000);
    const nextAttemptAt = now + backoff * (0.5 + Math.random() / 2); // jitter: receivers recovering are not stampeded
    this.logger.warn(
      `Could not deliver ${what} (attempt ${attempts}): ${result.reason}; next in ${Math.round((nextAttemptAt - now) / 1000)} s`,
    );
    const current = await this.storage.readDocument(key);
    const held = current && outboxEntrySchema.safeParse(current.value).data?.lease?.owner === token;
    if (!held) return; // the lease ran out and another replica took the delivery over
    const { lease: _released, ...rest } = entry;
    await this.storage.writeJson(
      key,
      { ...rest, attempts, nextAttemptAt, lastError: result.reason.slice(0, 500) },
      { ifMatch: current.version },
    );
  }
}
