// The package's library entry: importing it starts nothing (the server, `upload-gateway-server`: standalone/main.ts).
import "reflect-metadata";

export { UploadGatewayModule, type UploadGatewayAsyncOptions } from "./gateway/upload-gateway.module";
export {
  type ApiKeyAuth,
  type IdentityProviderSettings,
  type LocalStorageSettings,
  type S3StorageSettings,
  type UploadGatewayAuth,
  type UploadGatewayOptions,
  type UploadTokenSettings,
} from "./gateway/upload-gateway.options";
export { createApp, createUploadGateway, type UploadGatewayServerOptions } from "./standalone/on-demand";
export { loadConfig, ConfigError, type AppConfig, type S3Credentials } from "./config/app-config";
export type { AuthRequest, AuthRequestToken, AuthResolver, ProjectDefaults } from "./auth/auth-resolver";
export { sha256Hex as hashApiKey } from "./auth/project-registry";
export type { Project, ProjectsFile, WebhookTarget } from "./auth/projects-file";
export type { WebhookTargetsOf } from "./webhooks/webhook-endpoints";
export { ApiError } from "./errors/api-error";
export {
  UploadRefusedError,
  type BeforeStartContext,
  type BeforeStartDecision,
  type RefusalCode,
  type UploadHookContext,
  type UploadLifecycleHooks,
} from "./uploads/lifecycle/upload-lifecycle.hooks";
export type { ObjectKeyInput, ObjectKeyNamer } from "./uploads/upload-keys";
export type { StartBodySchema } from "./uploads/start-body";
export type { ContentScanner, ScanResult } from "./verification/scanner";
export type { ByteSource } from "./verification/byte-source";
export { LocalStorage, type LocalStorageOptions } from "./storage/local.storage";
export { S3Storage, type S3StorageOptions } from "./storage/s3.storage";
export * from "./storage/storage.port";
export { STORAGE } from "./tokens";
