// Every Nest injection token of the gateway, on the ground floor: any floor may import them, and this file imports
// nothing. The types of what they carry stay with their owners (named beside each token). Their providers are made
// in gateway/ (the composition root): most from the gateway's setup (gateway/gateway-setup.module.ts), which is made
// from the environment (`createApp`) or from the options of `UploadGatewayModule`, validated before Nest starts.

// The setup

/** The whole validated setup (`GatewaySetup`, gateway/gateway-setup.module.ts). */
export const GATEWAY_SETUP = Symbol("GatewaySetup");
/** The path the gateway's routes are mounted under: "" at the root, else "/media" and the like. */
export const ROUTE_PREFIX = Symbol("RoutePrefix");

// Configuration (config/)

/** The validated configuration (`AppConfig`). */
export const APP_CONFIG = Symbol("AppConfig");
/** The validated `PROJECTS_FILE` (`ProjectsFile`), or null without one (dev mode, or a custom auth resolver). */
export const PROJECTS = Symbol("Projects");

// Storage (storage/)

/** The configured `Storage` adapter, observed (gateway/storage.module.ts). */
export const STORAGE = Symbol("Storage");
/**
 * The embedded store (`LocalStorage`) when it is the one configured, else null: what the module serving its part and
 * download URLs needs, without knowing which adapters exist.
 */
export const EMBEDDED_STORE = Symbol("EmbeddedStore");

// Logging and metrics (observability/)

/** The process's pino logger (the one Fastify and Nest write through). */
export const LOGGER = Symbol("Logger");
/** Receives every storage call's operation, duration and outcome (`StorageCallObserver`). */
export const STORAGE_OBSERVER = Symbol("StorageObserver");
/**
 * The standalone server's Prometheus metrics (`GatewayMetrics`), for what counts outside requests (webhook
 * deliveries, the expiry sweep); null when embedded, where the application keeps its own metrics.
 */
export const METRICS = Symbol("Metrics");

// Authentication (auth/)

/** A custom `AuthResolver` when the embedding app gave one; null means API keys (the projects file or the dev key). */
export const AUTH_RESOLVER = Symbol("AuthResolver");
/** Rules every project gets unless its own entry says otherwise (`ProjectDefaults`: the module's `limits`). */
export const PROJECT_DEFAULTS = Symbol("ProjectDefaults");
/** The keys upload tokens are signed with (`TokenSigningKey[]`). */
export const TOKEN_SIGNING_KEYS = Symbol("TokenSigningKeys");
/** The dev mode's project and API key (`DevAccess`), or null outside dev mode. */
export const DEV_ACCESS = Symbol("DevAccess");

// Uploads (uploads/)

/** The embedding app's naming of objects (`ObjectKeyNamer`), or null for `projects/{projectId}/files/{requestKey}`. */
export const OBJECT_KEY_NAMER = Symbol("ObjectKeyNamer");
/** The embedding app's start body schema (`StartBodySchema`), or null for the contract's. */
export const START_BODY_SCHEMA = Symbol("StartBodySchema");
/** The embedding app's lifecycle hooks (`UploadLifecycleHooks`; `{}` when none are given). */
export const UPLOAD_LIFECYCLE_HOOKS = Symbol("UploadLifecycleHooks");
/** The embedding app's content scanners (`ContentScanner[]`, verification/scanner.ts); ClamAV's joins them. */
export const CONTENT_SCANNERS = Symbol("ContentScanners");
/**
 * Where the lifecycle records each upload event (`UploadEventOutbox`, uploads/lifecycle/upload-lifecycle.service.ts):
 * the webhooks' outbox, bound in gateway/lifecycle.module.ts, so that uploads/ need not import webhooks/.
 */
export const UPLOAD_EVENT_OUTBOX = Symbol("UploadEventOutbox");

// Webhooks (webhooks/)

/** The projects' webhook targets (`WebhookTargetsOf`), in place of the projects file's `webhooks`; or null. */
export const WEBHOOK_TARGETS = Symbol("WebhookTargets");
