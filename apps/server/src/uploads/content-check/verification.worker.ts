import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from "@nestjs/common";
import type { AppConfig } from "../../config/app-config";
import { APP_CONFIG } from "../../tokens";
import { UploadsService } from "../uploads.service";

/**
 * Runs the content checks no request ran to the end: left by a process that died mid-check (its lease ran out), or by
 * a failure being retried. Every replica polls the due index's `content-check` kind every `VERIFY_POLL_SECONDS`, one
 * LIST whatever the number of projects (scheduling/due-worker.ts); claims decide who runs each. A retry due sooner
 * than the next poll is run by the process that scheduled it, at its time.
 */
@Injectable()
export class VerificationWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(UploadsService) private readonly uploads: UploadsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.uploads.verification.worker.start(this.config.VERIFY_POLL_SECONDS * 1000, 0);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.uploads.verification.worker.stop();
  }
}
