import type { HttpAdapterHost } from "@nestjs/core";

/** The HTTP platforms the gateway's routes run on. */
export const SUPPORTED_HTTP_PLATFORMS = ["fastify", "express"] as const;

/**
 * Which of Nest's HTTP platforms the app runs on (its adapter's `getType()`: "fastify", "express", or another's name),
 * or "none" in an application context without HTTP (a worker delivering webhooks and sweeping expired uploads).
 */
export function httpPlatformOf(host: HttpAdapterHost): string {
  const adapter = host.httpAdapter as { getType?: () => string } | null | undefined;
  if (!adapter) return "none";
  return adapter.getType?.() ?? "an unnamed HTTP platform";
}
