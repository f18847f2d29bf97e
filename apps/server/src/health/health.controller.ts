import { Controller, Inject, Logger, UseFilters } from "@nestjs/common";
import { EnvelopeExceptionFilter } from "../http/envelope-exception.filter";
import { TsRestHandler, tsRestHandler } from "@ts-rest/nest";
import { errorEnvelope, healthContract, ok } from "@upload-gateway/contract";
import { APP_CONFIG, STORAGE } from "../tokens";
import type { AppConfig } from "../config/app-config";
import type { Storage } from "../storage/storage.port";

/** Liveness and readiness probes, outside the API key guard. */
@Controller()
// Here as well as app-wide: embedded in another app, the gateway's routes still answer in its envelope.
@UseFilters(EnvelopeExceptionFilter)
export class HealthController {
  private readonly logger = new Logger(HealthController.name);

  constructor(
    @Inject(STORAGE) private readonly storage: Storage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @TsRestHandler(healthContract)
  handle() {
    return tsRestHandler(healthContract, {
      live: () => Promise.resolve({ status: 200 as const, body: ok({ status: "ok" as const }) }),
      ready: async () => {
        try {
          await this.storage.checkReady();
          return { status: 200, body: ok({ status: "ok" as const, storage: this.config.STORAGE }) };
        } catch (error) {
          // Whatever stops the store from answering, the instance is not ready.
          this.logger.warn(`Storage not ready: ${error instanceof Error ? error.message : String(error)}`);
          const message = `The ${this.config.STORAGE} storage is not ready.`;
          return { status: 503, body: errorEnvelope([{ code: "STORAGE_UNAVAILABLE", message }]) };
        }
      },
    });
  }
}
