import { Inject, Injectable, type OnModuleInit } from "@nestjs/common";
import { HttpAdapterHost } from "@nestjs/core";
import { ConfigError } from "../config/app-config";

/**
 * Refuses to start the gateway in a Nest app on another HTTP platform than Fastify (Nest's default is Express). Its
 * guard, error envelope, docs and the embedded store's part and download routes use Fastify's request and reply, so
 * on Express some routes would fail with errors far from the cause and others would silently be missing. An
 * application context without HTTP (a worker delivering webhooks and sweeping expired uploads) is fine.
 */
@Injectable()
export class HttpPlatformCheck implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as { getType?: () => string } | null | undefined;
    const platform = adapter?.getType?.();
    if (!adapter || platform === "fastify") return;
    throw new ConfigError([
      `UploadGatewayModule needs Nest's Fastify platform, and this app runs on ${platform ?? "another HTTP platform"}: ` +
        "install @nestjs/platform-fastify and create the app with NestFactory.create(AppModule, new FastifyAdapter())",
    ]);
  }
}
