import { Inject, Module, type OnApplicationBootstrap } from "@nestjs/common";
import { HttpAdapterHost } from "@nestjs/core";
import type { FastifyInstance } from "fastify";
import type { AppConfig } from "../config/app-config";
import { APP_CONFIG, ROUTE_PREFIX, EMBEDDED_STORE } from "../tokens";
import { httpPlatformOf } from "../http/http-platform";
import type { LocalStorage } from "../storage/local.storage";
import { registerLocalStoreExpressRoutes, type ExpressRoutes } from "./local-store.express";
import { localStoreFastifyRoutes } from "./local-store.fastify";

/**
 * Serves the embedded store's part and download URLs (`/storage/...` under the gateway's path prefix, where the
 * store's public URL points) when the embedded store is the one configured, on Fastify or Express; with S3, clients
 * talk to S3 and this module adds nothing.
 */
@Module({})
export class LocalStoreHttpModule implements OnApplicationBootstrap {
  constructor(
    @Inject(EMBEDDED_STORE) private readonly store: LocalStorage | null,
    @Inject(ROUTE_PREFIX) private readonly prefix: string,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    // On Express, now: Nest creates the app's modules before `init()` installs its JSON and form parsers as the first
    // middleware of the app, and a part PUT whose Content-Type is application/json (a JSON file's part) must reach
    // the store unread. Routes added later (at bootstrap) would come after those parsers.
    if (this.store && httpPlatformOf(adapterHost) === "express") {
      registerLocalStoreExpressRoutes(
        adapterHost.httpAdapter.getInstance<ExpressRoutes>(),
        this.store,
        prefix,
        this.idleMs,
      );
    }
  }

  // On Fastify, at bootstrap, after Nest has installed its error and not-found handlers: a Fastify plugin loaded
  // earlier (an awaited register loads at once) fixes the error handler of every route registered so far to Fastify's
  // default, which answers raw `{statusCode, error, message}` bodies instead of the envelope.
  async onApplicationBootstrap(): Promise<void> {
    if (!this.store || httpPlatformOf(this.adapterHost) !== "fastify") return;
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    await fastify.register(
      localStoreFastifyRoutes(this.store, this.idleMs),
      this.prefix ? { prefix: this.prefix } : {},
    );
  }

  /** A part's body that sends nothing for this long is cut (408). */
  private get idleMs(): number {
    return this.config.BODY_IDLE_TIMEOUT_SECONDS * 1000;
  }
}
