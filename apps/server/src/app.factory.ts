import "reflect-metadata";
import zlib from "node:zlib";
import fastifyCompress from "@fastify/compress";
import { NestFactory } from "@nestjs/core";
import { FastifyAdapter, type NestFastifyApplication } from "@nestjs/platform-fastify";
import { AppModule } from "./app.module";
import { readProjectsFile } from "./auth/projects-file";
import { ProjectRegistry } from "./auth/project-registry";
import type { AppConfig } from "./config/app-config";
import { registerCors } from "./http/cors";
import { httpServerOptions, registerHttpHardening } from "./http/http-hardening";
import { registerRateLimits } from "./rate-limit/rate-limit.hook";
import { httpLoggingOptions, registerHttpLogging } from "./observability/http-logging";
import { createLogger, type LoggerOptions } from "./observability/logger";
import { GatewayMetrics, registerMetrics } from "./observability/metrics";
import { PinoNestLogger } from "./observability/nest-logger";
import { registerSecurityHeaders } from "./http/security-headers";
import { STORAGE, type Storage } from "./storage/storage.port";
import type { UploadLifecycleHooks } from "./lifecycle/upload-lifecycle.hooks";

/** What an embedding application adds to the gateway. */
export interface GatewayExtensions {
  /** In-process hooks into every upload's life (see lifecycle/upload-lifecycle.hooks.ts). */
  hooks?: UploadLifecycleHooks;
}

/** Builds the application (not yet listening): the one way `main` and the tests create a server. */
export async function createApp(
  config: AppConfig,
  logging: LoggerOptions = {},
  extensions: GatewayExtensions = {},
): Promise<NestFastifyApplication> {
  // Read before Nest starts: a bad file then fails with one ConfigError, not an injector error with a stack trace.
  const projects = config.PROJECTS_FILE ? readProjectsFile(config.PROJECTS_FILE) : null;
  const logger = createLogger(config, logging);
  const adapter = new FastifyAdapter({ ...httpServerOptions(config), ...httpLoggingOptions(logger) });
  registerHttpLogging(adapter.getInstance());
  const metrics = new GatewayMetrics();
  registerMetrics(adapter.getInstance(), metrics, config.METRICS_TOKEN);
  registerHttpHardening(adapter.getInstance(), config);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, projects, logger, metrics, extensions.hooks), adapter, {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
    // Fastify's own JSON parser only (see registerHttpHardening): Nest's would add a form parser to the JSON API.
    bodyParser: false,
  });
  // A 10,000-part start replies ~4.6 MB of JSON: compress it for clients that accept it. Brotli at a low quality,
  // since its default (11) costs seconds on a reply that size; both run on zlib's thread pool, off the event loop.
  await app.register(fastifyCompress, {
    threshold: 1024,
    encodings: ["br", "gzip", "deflate"],
    brotliOptions: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } },
    zlibOptions: { level: 6 },
  });
  const registry = app.get(ProjectRegistry, { strict: false });
  registerCors(adapter.getInstance(), { origins: config.CORS_ORIGINS, projectOrigins: (id) => registry.allowedOrigins(id) });
  // After CORS, so that a 429 still carries the headers a page needs to read it.
  registerRateLimits(adapter.getInstance(), {
    perKeyPerMinute: config.RATE_LIMIT_PER_MINUTE,
    perIpPerMinute: config.RATE_LIMIT_PER_IP_PER_MINUTE,
    registry,
  });
  app.enableShutdownHooks();
  const storage = app.get<Storage>(STORAGE);
  registerSecurityHeaders(adapter.getInstance(), { connectOrigins: [storage.urlOrigin] });
  await app.init();
  return app;
}
