import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from "@nestjs/common";
import { DEV_ACCESS, type DevAccess } from "../auth/dev-access";
import type { ProjectsFile } from "../auth/projects-file";
import type { AppConfig } from "../config/app-config";
import { APP_CONFIG, PROJECTS } from "../config/config.module";
import { SweepLoop } from "../scheduling/sweep-loop";
import { STORAGE, type Storage } from "../storage/storage.port";
import { openUploadPrefix } from "./upload-keys";
import { UploadsService } from "./uploads.service";

/** Uploads in progress looked at per project and sweep. */
const PAGE = 1000;

/**
 * Aborts uploads nobody finished: every `UPLOAD_EXPIRY_SWEEP_SECONDS`, each replica reads the records of the uploads
 * in progress (the `maxOpenUploads` markers) and expires those whose URLs stopped working more than
 * `UPLOAD_EXPIRY_GRACE_SECONDS` ago, through the state machine's compare-and-swap: of replicas sweeping at once, or a
 * sweep and a client finishing the upload, one wins, and `upload.expired` is emitted (and counted in the metrics) once.
 *
 * Projects swept: the projects file's, the dev project, and those this process has seen starts in (with a custom
 * auth resolver, the gateway has no list of projects). The bucket's `AbortIncompleteMultipartUpload` lifecycle rule
 * is the second net for what this misses (README).
 */
@Injectable()
export class UploadExpirySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger("UploadExpiry");
  private readonly loop: SweepLoop;

  constructor(
    @Inject(UploadsService) private readonly uploads: UploadsService,
    @Inject(STORAGE) private readonly storage: Storage,
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

  private projectIds(): string[] {
    const ids = new Set<string>(this.projects?.projects.map((p) => p.id) ?? []);
    if (this.dev) ids.add(this.dev.projectId);
    for (const id of this.uploads.projectsSeen()) ids.add(id);
    return [...ids];
  }

  /** One pass over every project's uploads in progress; returns how many it expired. */
  async sweep(): Promise<number> {
    let expired = 0;
    for (const projectId of this.projectIds()) {
      if (this.loop.stopped) break;
      try {
        const prefix = openUploadPrefix(projectId);
        const { keys } = await this.storage.listKeys(prefix, { limit: PAGE });
        for (const key of keys) {
          if (this.loop.stopped) break;
          const requestKey = key.slice(prefix.length);
          if (await this.uploads.expire(projectId, requestKey, this.config.UPLOAD_EXPIRY_GRACE_SECONDS)) {
            expired++;
            this.logger.log(`Expired upload ${requestKey} of project ${projectId}`);
          }
        }
      } catch (error) {
        this.logger.warn(`Could not sweep the expired uploads of project ${projectId}: ${(error as Error).message}`);
      }
    }
    return expired;
  }
}
