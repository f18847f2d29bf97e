import { Global, Module, type DynamicModule, type InjectionToken, type ModuleMetadata, type OptionalFactoryDependency } from "@nestjs/common";
import type { Logger } from "pino";
import { AUTH_RESOLVER, PROJECT_DEFAULTS, type AuthResolver, type ProjectDefaults } from "../auth/auth-resolver";
import type { ProjectsFile } from "../auth/projects-file";
import type { AppConfig } from "../config/app-config";
import { APP_CONFIG, PROJECTS } from "../config/config.module";
import { UPLOAD_LIFECYCLE_HOOKS, type UploadLifecycleHooks } from "../lifecycle/upload-lifecycle.hooks";
import type { StorageCallObserver } from "../observability/instrumented-storage";
import type { GatewayMetrics } from "../observability/metrics";
import { LOGGER, METRICS, STORAGE_OBSERVER } from "../observability/observability.module";
import type { Storage } from "../storage/storage.port";
import { START_BODY_SCHEMA, type StartBodySchema } from "../uploads/start-body";
import { WEBHOOK_TARGETS, type WebhookTargetsOf } from "../webhooks/webhook-endpoints";
import { OBJECT_KEY_NAMER, type ObjectKeyNamer } from "../uploads/upload-keys";
import { HttpPlatformCheck } from "./http-platform.check";

/**
 * Everything the gateway's modules are made from, validated before Nest starts: from the environment (`createApp`,
 * the bin) or from `UploadGatewayModule`'s options.
 */
export interface GatewaySetup {
  config: AppConfig;
  /** API keys and projects; null with a custom `authResolver`, or in dev mode (the dev key's project). */
  projects: ProjectsFile | null;
  logger: Logger;
  observeStorage: StorageCallObserver;
  /** The standalone server's metrics (webhook deliveries, expired uploads); absent when embedded. */
  metrics?: GatewayMetrics;
  /** An adapter the embedding app made itself; when absent, the one `config.STORAGE` selects. */
  storage?: Storage;
  authResolver?: AuthResolver;
  projectDefaults?: ProjectDefaults;
  objectKey?: ObjectKeyNamer;
  startBody?: StartBodySchema;
  /** In-process hooks into every upload's life (see lifecycle/upload-lifecycle.hooks.ts). */
  hooks?: UploadLifecycleHooks;
  /** The projects' webhook targets, in place of the projects file's `webhooks`. */
  webhookTargets?: WebhookTargetsOf;
}

export const GATEWAY_SETUP = Symbol("GatewaySetup");
/** The path the gateway's routes are mounted under: "" at the root, else "/media" and the like. */
export const ROUTE_PREFIX = Symbol("RoutePrefix");

export interface GatewaySetupFactory {
  imports?: ModuleMetadata["imports"];
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  useFactory: (...args: never[]) => GatewaySetup | Promise<GatewaySetup>;
}

/** Makes the setup's parts injectable everywhere in the gateway, under the tokens its modules already use. */
@Global()
@Module({})
export class GatewaySetupModule {
  static register(path: string, factory: GatewaySetupFactory): DynamicModule {
    const part = <T>(provide: symbol, pick: (setup: GatewaySetup) => T) => ({
      provide,
      inject: [GATEWAY_SETUP],
      useFactory: pick,
    });
    const providers = [
      { provide: GATEWAY_SETUP, inject: factory.inject ?? [], useFactory: factory.useFactory as (...args: unknown[]) => GatewaySetup | Promise<GatewaySetup> },
      { provide: ROUTE_PREFIX, useValue: path },
      part(APP_CONFIG, (s) => s.config),
      part(PROJECTS, (s) => s.projects),
      part(LOGGER, (s) => s.logger),
      part(STORAGE_OBSERVER, (s) => s.observeStorage),
      part(METRICS, (s) => s.metrics ?? null),
      part(AUTH_RESOLVER, (s) => s.authResolver ?? null),
      part(PROJECT_DEFAULTS, (s) => s.projectDefaults ?? null),
      part(OBJECT_KEY_NAMER, (s) => s.objectKey ?? null),
      part(START_BODY_SCHEMA, (s) => s.startBody ?? null),
      part(UPLOAD_LIFECYCLE_HOOKS, (s) => s.hooks ?? {}),
      part(WEBHOOK_TARGETS, (s) => s.webhookTargets ?? null),
    ];
    return {
      module: GatewaySetupModule,
      imports: factory.imports ?? [],
      providers: [...providers, HttpPlatformCheck],
      exports: providers.map((p) => p.provide),
    };
  }
}
