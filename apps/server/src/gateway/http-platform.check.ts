import { Inject, Injectable, type OnModuleInit } from "@nestjs/common";
import { HttpAdapterHost } from "@nestjs/core";
import { ConfigError } from "../config/app-config";
import { httpPlatformOf, SUPPORTED_HTTP_PLATFORMS } from "../http/http-platform";

/**
 * Refuses to start the gateway in a Nest app on an HTTP platform other than Fastify and Express (a custom adapter):
 * the embedded store's part and download routes are registered on the platform's own router, which the gateway knows
 * for those two only, so on another its URLs would silently answer 404. An application context without HTTP (a
 * worker delivering webhooks and sweeping expired uploads) is fine.
 */
@Injectable()
export class HttpPlatformCheck implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const platform = httpPlatformOf(this.adapterHost);
    if (platform === "none" || (SUPPORTED_HTTP_PLATFORMS as readonly string[]).includes(platform)) return;
    throw new ConfigError([
      `UploadGatewayModule runs on Nest's Fastify or Express platform, and this app runs on ${platform}: ` +
        "create the app with NestFactory.create(AppModule) (Express) or NestFactory.create(AppModule, new FastifyAdapter())",
    ]);
  }
}
