import "reflect-metadata";
import { NestFactory } from "@nestjs/core";
import { FastifyAdapter } from "@nestjs/platform-fastify";
import { PlatformModule } from "./platform.module";

// `pnpm --filter @upload-gateway/platform-example start` after a build: PORT (4000), DATA_DIR (./.data), API_KEY, and
// HTTP_PLATFORM (fastify, the default, or express: the gateway's module runs on either of Nest's platforms).
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 4000);
  const apiKey = process.env.API_KEY;
  if (!apiKey || apiKey.length < 16)
    throw new Error("Set API_KEY (at least 16 characters): the newsroom project's key");
  const module = PlatformModule.forRoot({
    dataDir: process.env.DATA_DIR ?? "./.data",
    publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}`,
    apiKey,
  });
  const platform = process.env.HTTP_PLATFORM ?? "fastify";
  if (platform !== "fastify" && platform !== "express") throw new Error("HTTP_PLATFORM must be fastify or express");
  // Without an adapter, Nest runs on Express.
  const app =
    platform === "express" ? await NestFactory.create(module) : await NestFactory.create(module, new FastifyAdapter());
  await app.listen(port, "127.0.0.1");
  console.log(
    `Platform example (${platform}) on http://127.0.0.1:${port}: uploads under /media, its catalog at /catalog/newsroom`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
