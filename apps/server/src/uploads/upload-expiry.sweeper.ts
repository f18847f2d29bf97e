import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from "@nestjs/common";
import type { DevAccess } from "../auth/dev-access";
import { DEV_ACCESS, APP_CONFIG, PROJECTS } from "../tokens";
import type { ProjectsFile } from "../auth/projects-file";
import type { AppConfig } from "../config/app-config";
import { SweepLoop } from "../scheduling/sweep-loop";
import { UploadsService } from "./uploads.service";

/**
 * Uploads looked at (and expired) at once. Each expiry is a few storage calls; one at a time, a backlog (stale uploads
 * piled up while no sweep ran) held every other project's expiry back for minutes.
 */
const CONCURRENCY = 8;

/**
 * Aborts uploads nobody finished: every `UPLOAD_EXPIRY_SWEEP_SECONDS`, each replica reads the records of the uploads
 * in progress (the `maxOpenUploads` markers) and expires those whose URLs stopped working more than
 * `UPLOAD_EXPIRY_GRACE_SECONDS` ago, through the state machine's compare-and-swap: of replicas sweeping at once, or a
 * sweep and a client finishing the upload, one wins, and `upload.expired` is emitted (and counted in the metrics) once.
 *
 * Projects swept: every project that has had an upload in the store (an index the starts keep there, so a custom
 * auth resolver, which gives the gateway no list of projects, and restarts lose none), the projects file's and the
 * dev project. Every upload in progress is looked at, page after page: request keys sort newest first, so the oldest,
 * the likeliest to have expired, come last. The bucket's `AbortIncompleteMultipartUpload` lifecycle rule is the
 * second net (README).
 */
@Injectable()
export class UploadExpirySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger("UploadExpiry");
  private readonly loop: SweepLoop;

  constructor(
    @Inject(UploadsService) private readonly uploads: UploadsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(PROJECTS) private readonly projects: ProjectsFile | null,
    @Inject(DEV_ACCESS) private readonly dev: DevAccess | null,
  ) {
    this.loop = new SweepLoop(() => this.sweep(), this.config.UPLOAD_EXPIRY_SWEEP_SECONDS * 1000);
  }

  onApplicationBootstrap(): void {
    if (this.config.UPLOAD_EXPIRY_SWEEP_SECONDS > 0) this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  private async projectIds(): Promise<string[]> {
    const ids = new Set<string>(this.projects?.projects.map((p) => p.id) ?? []);
    if (this.dev) ids.add(this.dev.projectId);
    for await (const id of this.uploads.projectsWithUploads()) ids.add(id);
    return [...ids];
  }

  /** One pass over every project's uploads in progress; returns how many it expired. */
  async sweep(): Promise<number> {
    let expired = 0;
    let projectIds: string[];
    try {
      projectIds = await this.projectIds();
    } catch (error) {
      this.logger.warn(`Could not list the projects to sweep for expired uploads: ${(error as Error).message}`);
      return 0;
    }
    const pending = this.uploadsInProgress(projectIds);
    const worker = async () => {
      for (let next = await pending.next(); !next.done && !this.loop.stopped; next = await pending.next()) {
        const { projectId, requestKey } = next.value;
        try {
          if (await this.uploads.expire(projectId, requestKey, this.config.UPLOAD_EXPIRY_GRACE_SECONDS)) {
            expired++;
            this.logger.log(`Expired upload ${requestKey} of project ${projectId}`);
          }
        } catch (error) {
          this.logger.warn(
            `Could not expire upload ${requestKey} of project ${projectId}: ${(error as Error).message}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return expired;
  }

  /** The uploads in progress of every project, one project after the other; a project that cannot be listed is skipped. */
  private async *uploadsInProgress(projectIds: string[]): AsyncGenerator<{ projectId: string; requestKey: string }> {
    for (const projectId of projectIds) {
      try {
        for await (const requestKey of this.uploads.uploadsInProgress(projectId)) yield { projectId, requestKey };
      } catch (error) {
        this.logger.warn(`Could not sweep the expired uploads of project ${projectId}: ${(error as Error).message}`);
      }
    }
  }
}
