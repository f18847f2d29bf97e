import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from "@nestjs/common";
import type { AppConfig } from "../config/app-config";
import { DueIndex, type ClaimedEntry } from "../scheduling/due-index";
import { DueWorker, type DueOutcome } from "../scheduling/due-worker";
import type { Storage } from "../storage/storage.port";
import { APP_CONFIG, STORAGE } from "../tokens";
import { EXPIRY_KIND } from "./expiry-schedule";
import { UploadsService } from "./uploads.service";

/**
 * Uploads looked at (and expired) at once within one project. Each expiry is a few storage calls; one at a time, a
 * backlog (stale uploads piled up while no replica ran) held the rest back for minutes.
 */
const CONCURRENCY = 8;
/** Projects whose expiry is due worked on at once by this process. */
const PROJECTS_AT_ONCE = 2;
/** Entries one poll lists. */
const PAGE = 100;
/** A project's expiry pass, however many uploads it has in progress, ends well within this; else it is done again. */
const LEASE_MS = 10 * 60_000;

/**
 * Aborts uploads nobody finished, when their URLs stopped working more than `UPLOAD_EXPIRY_GRACE_SECONDS` ago, through
 * the state machine's compare-and-swap: of replicas expiring at once, or an expiry and a client finishing the upload,
 * one wins, and `upload.expired` is emitted (and counted in the metrics) once.
 *
 * What is due is found in the store's due index (scheduling/due-index.ts): the starts schedule one entry per project
 * and window of UPLOAD_EXPIRY_SWEEP_SECONDS (expiry-schedule.ts), and each replica polls the index every
 * UPLOAD_EXPIRY_SWEEP_SECONDS, one LIST whatever the number of projects. A due entry is claimed with a lease; its
 * project's uploads in progress (their open-upload markers) are looked at, and those past their URLs' expiry and the
 * grace are expired. A replica dying mid-pass leaves its lease to run out, and the pass is done again. The bucket's
 * `AbortIncompleteMultipartUpload` lifecycle rule is the second net (README).
 */
@Injectable()
export class UploadExpirySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger("UploadExpiry");
  readonly worker: DueWorker<undefined>;

  constructor(
    @Inject(UploadsService) private readonly uploads: UploadsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORAGE) storage: Storage,
  ) {
    this.worker = new DueWorker(new DueIndex(storage), EXPIRY_KIND, (entry) => this.expireProject(entry), {
      leaseMs: LEASE_MS,
      concurrency: PROJECTS_AT_ONCE,
      pageSize: PAGE,
      onError: (ref, error) =>
        this.logger.warn(`Could not expire the uploads of project ${ref.id}: ${(error as Error).message}`),
      onPollError: (error) => this.logger.warn(`Could not look for uploads to expire: ${(error as Error).message}`),
    });
  }

  onApplicationBootstrap(): void {
    const intervalMs = this.config.UPLOAD_EXPIRY_SWEEP_SECONDS * 1000;
    if (intervalMs > 0) this.worker.start(intervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker.stop();
  }

  /** One poll of the due index: the projects whose expiry is due; answers how many it worked on. */
  async sweep(): Promise<number> {
    try {
      return await this.worker.poll();
    } catch (error) {
      this.logger.warn(`Could not look for uploads to expire: ${(error as Error).message}`);
      return 0;
    }
  }

  /**
   * Expires the project's uploads in progress whose URLs have run out past the grace. Done when every one was looked
   * at; a failure (the store) has the pass done again one interval later.
   */
  private async expireProject(entry: ClaimedEntry<undefined>): Promise<DueOutcome<undefined>> {
    const projectId = entry.id;
    const graceMs = this.config.UPLOAD_EXPIRY_GRACE_SECONDS * 1000;
    const markers = this.uploads.openMarkers(projectId)[Symbol.asyncIterator]();
    let failures = 0;
    const worker = async () => {
      for (let next = await markers.next(); !next.done && !this.worker.stopped; next = await markers.next()) {
        const { requestKey, expiresAt, key } = next.value;
        // A marker's expiry is the upload's first; a resume may have extended the record's, never shortened it.
        if (expiresAt !== undefined && Date.parse(expiresAt) + graceMs >= Date.now()) continue;
        try {
          if (await this.uploads.expire(projectId, requestKey, this.config.UPLOAD_EXPIRY_GRACE_SECONDS)) {
            this.logger.log(`Expired upload ${requestKey} of project ${projectId}`);
          } else if (await this.uploads.releaseLeakedPlace(projectId, key)) {
            // A start that died before its record, or an upload whose end did not give its place back.
            this.logger.log(`Freed the leaked open-upload place of ${requestKey} in project ${projectId}`);
          }
        } catch (error) {
          failures++;
          this.logger.warn(
            `Could not expire upload ${requestKey} of project ${projectId}: ${(error as Error).message}`,
          );
        }
      }
    };
    // One iterator shared by the workers: an async generator queues their `next` calls.
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (failures > 0 || this.worker.stopped) {
      return { retryAt: Date.now() + this.config.UPLOAD_EXPIRY_SWEEP_SECONDS * 1000 };
    }
    return { done: true };
  }
}
