import "reflect-metadata";
import { NestFactory } from "@nestjs/core";
import { FastifyAdapter, type NestFastifyApplication } from "@nestjs/platform-fastify";
import { PlatformModule } from "./platform.module";

// `pnpm --filter @upload-gateway/platform-example start` after a build: PORT (4000), DATA_DIR (./.data), API_KEY.
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 4000);
  const apiKey = process.env.API_KEY;
  if (!apiKey || apiKey.length < 16) throw new Error("Set API_KEY (at least 16 characters): the newsroom project's key");
  const module = PlatformModule.forRoot({
    dataDir: process.env.DATA_DIR ?? "./.data",
    publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}`,
    apiKey,
  });
  const app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter());
  await app.listen(port, "127.0.0.1");
  console.log(`Platform example on http://127.0.0.1:${port}: uploads under /media, its catalog at /catalog/newsroom`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
