import { Inject, Module, type OnApplicationBootstrap } from "@nestjs/common";
import { HttpAdapterHost } from "@nestjs/core";
import type { FastifyInstance } from "fastify";
import type { LocalStorage } from "../storage/local.storage";
import { ROUTE_PREFIX } from "../gateway/gateway-setup.module";
import { EMBEDDED_STORE } from "../storage/storage.module";
import { localStoreRoutes } from "./local-store.routes";

/**
 * Serves the embedded store's part and download URLs (`/storage/...` under the gateway's path prefix) when the embedded store is the one configured;
 * with S3, clients talk to S3 and this module adds nothing.
 */
@Module({})
export class LocalStoreHttpModule implements OnApplicationBootstrap {
  constructor(
    @Inject(EMBEDDED_STORE) private readonly store: LocalStorage | null,
    @Inject(ROUTE_PREFIX) private readonly prefix: string,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  // At bootstrap, after Nest has installed its error and not-found handlers: a Fastify plugin loaded earlier (an
  // awaited register loads at once) fixes the error handler of every route registered so far to Fastify's default,
  // which answers raw `{statusCode, error, message}` bodies instead of the envelope.
  async onApplicationBootstrap(): Promise<void> {
    // No HTTP at all in an application context (a worker): nothing to serve.
    if (!this.store || !this.adapterHost.httpAdapter) return;
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Under the gateway's path prefix, where the store's URLs point (its public URL ends with the prefix).
    await fastify.register(localStoreRoutes(this.store), this.prefix ? { prefix: this.prefix } : {});
  }
}
