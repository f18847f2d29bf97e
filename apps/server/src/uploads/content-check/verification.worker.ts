import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from "@nestjs/common";
import type { AppConfig } from "../../config/app-config";
import { SweepLoop } from "../../scheduling/sweep-loop";
import { APP_CONFIG } from "../../tokens";
import { UploadsService } from "../uploads.service";

/** Due jobs read per poll (one listing), and how many of them run at once. */
const PAGE = 50;
const CONCURRENCY = 2;

/**
 * Runs the content checks no request ran to the end: left by a process that died mid-check (its lease ran out), by a
 * failure being retried, or by a request that stopped waiting. Every replica polls every `VERIFY_POLL_SECONDS` with
 * one listing of the global, due-ordered job prefix, whatever the number of projects; claims decide who runs each.
 */
@Injectable()
export class VerificationWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger("VerificationWorker");
  private readonly loop: SweepLoop;

  constructor(
    @Inject(UploadsService) private readonly uploads: UploadsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.loop = new SweepLoop(() => this.poll(), config.VERIFY_POLL_SECONDS * 1000);
  }

  onApplicationBootstrap(): void {
    this.loop.start(0);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    await this.uploads.verification.drain();
  }

  private async poll(): Promise<void> {
    try {
      await this.uploads.verification.runDue(PAGE, CONCURRENCY, () => this.loop.stopped);
    } catch (error) {
      this.logger.warn(`Could not look for content checks to run: ${(error as Error).message}`);
    }
  }
}
