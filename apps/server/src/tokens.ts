// The configuration's injection tokens. Their providers are in the gateway's setup module
// (src/gateway/gateway-setup.module.ts), which makes them from the environment (`createApp`) or from the options of
// `UploadGatewayModule`, in both cases validated before Nest starts.

/** The validated configuration (`AppConfig`). */
export const APP_CONFIG = Symbol("AppConfig");
/** The validated `PROJECTS_FILE`, or null without one (dev mode, or a custom auth resolver). */
export const PROJECTS = Symbol("Projects");
