import {
  Global,
  Module,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OptionalFactoryDependency,
} from "@nestjs/common";
import type { Logger } from "pino";
import type { AuthResolver, ProjectDefaults } from "../auth/auth-resolver";
import {
  AUTH_RESOLVER,
  GATEWAY_SETUP,
  ROUTE_PREFIX,
  PROJECT_DEFAULTS,
  APP_CONFIG,
  PROJECTS,
  UPLOAD_LIFECYCLE_HOOKS,
  LOGGER,
  METRICS,
  STORAGE_OBSERVER,
  START_BODY_SCHEMA,
  WEBHOOK_TARGETS,
  OBJECT_KEY_NAMER,
  CONTENT_SCANNERS,
} from "../tokens";
import type { ContentScanner } from "../verification/scanner";
import type { ProjectsFile } from "../auth/projects-file";
import type { AppConfig } from "../config/app-config";
import type { UploadLifecycleHooks } from "../uploads/lifecycle/upload-lifecycle.hooks";
import type { StorageCallObserver } from "../observability/instrumented-storage";
import type { GatewayMetrics } from "../observability/metrics";
import type { Storage } from "../storage/storage.port";
import type { StartBodySchema } from "../uploads/start-body";
import type { WebhookTargetsOf } from "../webhooks/webhook-endpoints";
import type { ObjectKeyNamer } from "../uploads/upload-keys";
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
  /** In-process hooks into every upload's life (see uploads/lifecycle/upload-lifecycle.hooks.ts). */
  hooks?: UploadLifecycleHooks;
  /** The projects' webhook targets, in place of the projects file's `webhooks`. */
  webhookTargets?: WebhookTargetsOf;
  /** Content scanners of the embedding app, asked about every stored upload (ClamAV's from CLAMD_URL joins them). */
  scanners?: ContentScanner[];
}

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
      {
        provide: GATEWAY_SETUP,
        inject: factory.inject ?? [],
        useFactory: factory.useFactory as (...args: unknown[]) => GatewaySetup | Promise<GatewaySetup>,
      },
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
      part(CONTENT_SCANNERS, (s) => s.scanners ?? null),
    ];
    return {
      module: GatewaySetupModule,
      imports: factory.imports ?? [],
      providers: [...providers, HttpPlatformCheck],
      exports: providers.map((p) => p.provide),
    };
  }
}
