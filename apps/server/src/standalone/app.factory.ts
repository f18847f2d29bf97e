import "reflect-metadata";
import zlib from "node:zlib";
import fastifyCompress from "@fastify/compress";
import { NestFactory } from "@nestjs/core";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { AppModule } from "../gateway/app.module";
import { readProjectsFile } from "../auth/projects-file";
import { Authenticator } from "../auth/authenticator";
import { ProjectRegistry } from "../auth/project-registry";
import { loadConfig, type AppConfig } from "../config/app-config";
import type { GatewaySetup } from "../gateway/gateway-setup.module";
import { normalizePrefix, setupFromOptions, type UploadGatewayOptions } from "../gateway/upload-gateway.options";
import { registerCors } from "./cors";
import { httpServerOptions, registerHttpHardening } from "./http-hardening";
import { registerRequestPaths } from "../http/request-path";
import { registerRateLimits } from "./rate-limit/rate-limit.hook";
import { createRateLimitStore } from "./rate-limit/rate-limit-store.factory";
import { httpLoggingOptions, registerHttpLogging } from "./http-logging";
import { createLogger, type LoggerOptions } from "../observability/logger";
import { GatewayMetrics } from "../observability/metrics";
import { registerMetrics } from "./metrics.hook";
import { PinoNestLogger } from "../observability/nest-logger";
import { registerSecurityHeaders } from "./security-headers";
import type { Storage } from "../storage/storage.port";
import { STORAGE } from "../tokens";
import type { UploadLifecycleHooks } from "../uploads/lifecycle/upload-lifecycle.hooks";

/** What an embedding application adds to the gateway. */
export interface GatewayExtensions {
  /** In-process hooks into every upload's life (see uploads/lifecycle/upload-lifecycle.hooks.ts). */
  hooks?: UploadLifecycleHooks;
}

/** Builds the application (not yet listening) from the environment's configuration: the bin and the tests. */
export async function createApp(
  config: AppConfig,
  logging: LoggerOptions = {},
  extensions: GatewayExtensions = {},
): Promise<NestFastifyApplication> {
  // Read before Nest starts: a bad file then fails with one ConfigError, not an injector error with a stack trace.
  const projects = config.PROJECTS_FILE ? readProjectsFile(config.PROJECTS_FILE) : null;
  const logger = createLogger(config, logging);
  const metrics = new GatewayMetrics();
  const hooks = extensions.hooks ? { hooks: extensions.hooks } : {};
  return buildApp({ config, projects, logger, observeStorage: metrics.observeStorage, metrics, ...hooks }, metrics);
}

export interface UploadGatewayServerOptions extends UploadGatewayOptions {
  /** Where the gateway's routes go: "/media" serves `/media/api/projects/...`; the root when omitted. */
  path?: string;
  /**
   * The standalone server's own settings, named and typed as the environment's (`CORS_ORIGINS`, `TRUST_PROXY`,
   * `RATE_LIMIT_PER_MINUTE`, `METRICS_TOKEN`, timeouts, ...); the defaults of `pnpm start` otherwise.
   */
  server?: Partial<AppConfig>;
}

/**
 * The whole gateway as a standalone Fastify app (not yet listening: call `listen`): the module's routes plus what the
 * bin serves around them (security headers, CORS, rate limits, /metrics, compression, the demo page at its root).
 */
export async function createUploadGateway(options: UploadGatewayServerOptions): Promise<NestFastifyApplication> {
  const path = normalizePrefix(options.path);
  const metrics = new GatewayMetrics();
  const setup = setupFromOptions(options, path, metrics.observeStorage, { ...loadConfig({}), ...options.server });
  return buildApp({ ...setup, metrics }, metrics, path);
}

async function buildApp(setup: GatewaySetup, metrics: GatewayMetrics, path = ""): Promise<NestFastifyApplication> {
  const { config, logger } = setup;
  // Loaded here, not on import: an app that embeds UploadGatewayModule on Express never loads Fastify's platform.
  const { FastifyAdapter } = await import("@nestjs/platform-fastify");
  const adapter = new FastifyAdapter({ ...httpServerOptions(config), ...httpLoggingOptions(logger) });
  // First: every policy below decides on the path computed here.
  registerRequestPaths(adapter.getInstance(), path);
  registerHttpLogging(adapter.getInstance());
  registerMetrics(adapter.getInstance(), metrics, config.METRICS_TOKEN);
  registerHttpHardening(adapter.getInstance(), config);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(setup, path), adapter, {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
    // Fastify's own JSON parser only (see registerHttpHardening): Nest's would add a form parser to the JSON API.
    bodyParser: false,
  });
  // A 10,000-part start replies ~5 MB of JSON: compress it for clients that accept it. Brotli at a low quality,
  // since its default (11) costs seconds on a reply that size; both run on zlib's thread pool, off the event loop.
  // gzip at level 3: half the time of its default (6) on a 10,000-part start's reply (~20 vs ~45 ms), 2% larger.
  // Replies under 14 KiB go as they are: they fit TCP's initial window (10 segments) and arrive in one round trip
  // either way, and a compressor's set-up (~1 ms for a 3-part start's 2 KB) would cost more than it saves.
  await app.register(fastifyCompress, {
    threshold: 14 * 1024,
    encodings: ["br", "gzip", "deflate"],
    brotliOptions: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } },
    zlibOptions: { level: 3 },
  });
  const registry = app.get(ProjectRegistry, { strict: false });
  registerCors(adapter.getInstance(), {
    origins: config.CORS_ORIGINS,
    projectOrigins: (id) => registry.allowedOrigins(id),
    prefix: path,
  });
  // After CORS, so that a 429 still carries the headers a page needs to read it.
  registerRateLimits(adapter.getInstance(), {
    perKeyPerMinute: config.RATE_LIMIT_PER_MINUTE,
    perIpPerMinute: config.RATE_LIMIT_PER_IP_PER_MINUTE,
    authenticator: app.get(Authenticator, { strict: false }),
    store: await createRateLimitStore(config, logger, metrics),
  });
  app.enableShutdownHooks();
  const storage = app.get<Storage>(STORAGE);
  registerSecurityHeaders(adapter.getInstance(), { connectOrigins: [storage.urlOrigin] });
  await app.init();
  return app;
}
