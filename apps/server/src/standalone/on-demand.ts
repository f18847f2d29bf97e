// The standalone server's factories as the package's entry exports them: loaded on the first call, so that requiring
// the entry (an Express app embedding UploadGatewayModule) loads no Fastify module and needs none installed.
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import type * as Factory from "./app.factory";

export type { GatewayExtensions, UploadGatewayServerOptions } from "./app.factory";

/**
 * The whole gateway as a standalone Fastify app (not yet listening: call `listen`): the module's routes plus what the
 * bin serves around them. Needs the optional peers `@nestjs/platform-fastify`, `fastify` and `@fastify/compress`.
 */
export async function createUploadGateway(
  ...args: Parameters<typeof Factory.createUploadGateway>
): Promise<NestFastifyApplication> {
  const factory = await import("./app.factory.js");
  return factory.createUploadGateway(...args);
}

/** The standalone app from the environment's configuration (as the bin builds it); the same optional peers. */
export async function createApp(...args: Parameters<typeof Factory.createApp>): Promise<NestFastifyApplication> {
  const factory = await import("./app.factory.js");
  return factory.createApp(...args);
}
