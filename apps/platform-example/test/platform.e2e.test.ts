import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { INestApplication } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { ExpressAdapter } from "@nestjs/platform-express";
import { FastifyAdapter } from "@nestjs/platform-fastify";
import { initClient } from "@ts-rest/core";
import { freePort } from "@upload-gateway/server/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mediaContract } from "../src/media.contract";
import { PROJECT_ID, PlatformModule } from "../src/platform.module";

/**
 * The platform example as its users meet it: through its composed contract's typed client, on the embedded store, on
 * both of Nest's HTTP platforms (Express is Nest's default; the example's main.ts takes either).
 */
const PLATFORMS = { fastify: () => new FastifyAdapter(), express: () => new ExpressAdapter() };

describe.each(["fastify", "express"] as const)(
  "the platform example (gateway under /media, composed contract, hooks) on %s",
  (platform) => {
    const apiKey = `key-${randomBytes(16).toString("hex")}`;
    let dir: string;
    let app: INestApplication;
    let base: string;
    let client: ReturnType<
      typeof initClient<typeof mediaContract, { baseUrl: string; baseHeaders: Record<string, string> }>
    >;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "platform-example-"));
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      app = await NestFactory.create(
        PlatformModule.forRoot({ dataDir: dir, publicUrl: base, apiKey }),
        PLATFORMS[platform](),
        { logger: false },
      );
      await app.listen(port, "127.0.0.1");
      client = initClient(mediaContract, { baseUrl: base, baseHeaders: { authorization: `Bearer ${apiKey}` } });
    });
    afterAll(async () => {
      await app?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const video = { partsNumber: 1, fileName: "interview.mp4", contentLength: "1000", mimeType: "video/mp4" };

    it("takes the platform's start field: required, checked, and the gateway's own checks still apply", async () => {
      const missing = await client.uploads.start({ params: { projectId: PROJECT_ID }, body: video as never });
      expect(missing).toMatchObject({
        status: 400,
        body: { errorDetails: [{ code: "VALIDATION_FAILED", field: "department" }] },
      });
      const unknown = await client.uploads.start({
        params: { projectId: PROJECT_ID },
        body: { ...video, department: "gossip" as never },
      });
      expect(unknown.status).toBe(400);
      const noPlan = await client.uploads.start({
        params: { projectId: PROJECT_ID },
        body: { ...video, department: "news", partsNumber: 30 },
      });
      expect(noPlan).toMatchObject({ status: 400, body: { errorDetails: [{ field: "partsNumber" }] } });
    });

    it("beforeStart refuses what the platform does not take, with a 4xx of the closed set", async () => {
      const refused = await client.uploads.start({
        params: { projectId: PROJECT_ID },
        body: { ...video, fileName: "notes.pdf", mimeType: "application/pdf", department: "archive" },
      });
      expect(refused).toMatchObject({
        status: 415,
        body: {
          success: false,
          errorDetails: [{ code: "MIME_TYPE_NOT_ALLOWED", field: "mimeType", message: "the archive takes video only" }],
        },
      });
    });

    it("an upload goes under its department's prefix, with the department in its metadata, and completion enters the catalog", async () => {
      const bytes = randomBytes(1000);
      const started = await client.uploads.start({
        params: { projectId: PROJECT_ID },
        body: { ...video, department: "sport" },
      });
      if (started.status !== 200) throw new Error(`start failed: ${JSON.stringify(started.body)}`);
      const { requestKey, presignedUrl } = started.body.result;
      expect(presignedUrl[0]!.presignedUrl.startsWith(`${base}/media/storage/uploads/`)).toBe(true);
      const put = await fetch(presignedUrl[0]!.presignedUrl, { method: "PUT", body: bytes });
      expect(put.status).toBe(200);
      const completed = await client.uploads.complete({
        params: { projectId: PROJECT_ID },
        body: { requestKey, parts: [{ partNumber: 1, eTag: put.headers.get("etag")! }] },
      });
      expect(completed).toMatchObject({ status: 200, body: { result: true } });

      const status = await client.uploads.get({ params: { projectId: PROJECT_ID, requestKey } });
      expect(status).toMatchObject({
        status: 200,
        body: { result: { state: "completed", metadata: { department: "sport" } } },
      });
      const download = await client.uploads.download({ params: { projectId: PROJECT_ID, requestKey } });
      if (download.status !== 200) throw new Error(`download failed: ${JSON.stringify(download.body)}`);
      expect(download.body.result.downloadPath).toContain(`/media/storage/objects/media/sport/${requestKey}?`);

      const catalog = await client.catalog({ params: { projectId: PROJECT_ID } });
      expect(catalog).toMatchObject({
        status: 200,
        body: { entries: [{ requestKey, fileName: "interview.mp4", size: 1000, department: "sport" }] },
      });
    });

    it("keeps its own route behind the platform's key", async () => {
      const anonymous = initClient(mediaContract, { baseUrl: base, baseHeaders: {} });
      expect((await anonymous.catalog({ params: { projectId: PROJECT_ID } })).status).toBe(401);
      expect((await anonymous.uploads.list({ params: { projectId: PROJECT_ID }, query: {} })).status).toBe(401);
    });
  },
);
