import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { verifyWebhook, type UploadEvent } from "@upload-gateway/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfigError,
  createUploadGateway,
  hashApiKey,
  type UploadGatewayOptions,
  type UploadHookContext,
} from "../src/index";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { backdateUpload } from "./support/backdate";
import { moduleApp } from "./support/gateway";
import { call } from "./support/http";
import { until } from "./support/until";

/**
 * The webhook and expiry settings as module options (the bin's WEBHOOK_* and UPLOAD_EXPIRY_* variables): each test
 * finishes in seconds only if its option took effect, since the defaults are a 30 s first retry, a 5 s poll, a sweep
 * every 5 minutes and an hour of grace.
 */

const PROJECT = "films";
const apiKey = `key-${randomBytes(16).toString("hex")}`;
const secret = `whsec-${randomBytes(16).toString("hex")}`;
const auth = { authorization: `Bearer ${apiKey}` };
const uploads = `/api/projects/${PROJECT}/uploads`;
const video = {
  partsNumber: 1,
  fileName: "clip.mp4",
  contentLength: "4096",
  mimeType: "video/mp4",
  metadata: { desk: "sport" },
};

let dir: string;
let app: NestFastifyApplication;
let receiver: Server;
/** Every delivery received, failed ones included, in order. */
const deliveries: { status: number; event: UploadEvent }[] = [];
const expired: UploadHookContext[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gateway-embed-settings-"));
  // Fails the first two deliveries of each event (500), then takes it.
  const attempts = new Map<string, number>();
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      void verifyWebhook(secret, request.headers["upload-gateway-signature"] as string, body).then(
        (event) => {
          const attempt = (attempts.get(event.id) ?? 0) + 1;
          attempts.set(event.id, attempt);
          const status = attempt <= 2 ? 500 : 204;
          deliveries.push({ status, event });
          response.writeHead(status).end();
        },
        () => response.writeHead(400).end(),
      );
    });
  });
  await new Promise<void>((done) => receiver.listen(0, "127.0.0.1", done));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/upload-events`;
  const options: UploadGatewayOptions = {
    storage: { type: "local", dir, fsync: false },
    publicUrl: "http://127.0.0.1:1",
    auth: {
      projects: {
        projects: [{ id: PROJECT, webhooks: [{ url, secret, events: ["upload.started", "upload.expired"] }] }],
        apiKeys: [{ name: "app", sha256: hashApiKey(apiKey), projects: [PROJECT] }],
      },
    },
    webhooks: { allowPrivateNetworks: true, retryBaseSeconds: 0.2, pollIntervalSeconds: 0.1, timeoutSeconds: 5 },
    expiry: { graceSeconds: 60, sweepIntervalSeconds: 0.2 },
    hooks: { onExpired: (context) => void expired.push(context) },
  };
  app = await moduleApp(options);
});
afterAll(async () => {
  await app?.close();
  await new Promise((done) => receiver?.close(done));
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<string> {
  const reply = await call(app, "POST", `${uploads}/multipart`, { headers: auth, body: video });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.result.requestKey as string;
}

/** Moves an upload's URL expiry `secondsAgo` into the past (URLs last an hour at least). */
async function backdate(requestKey: string, secondsAgo: number): Promise<void> {
  await backdateUpload(app.get<Storage>(STORAGE), PROJECT, requestKey, secondsAgo);
}

const stateOf = async (requestKey: string) =>
  (await call(app, "GET", `${uploads}/${requestKey}`, { headers: auth })).body.result.state as string;

describe("UploadGatewayModule's webhooks and expiry options", () => {
  it("webhooks: a loopback receiver is reached (allowPrivateNetworks) and a failed delivery is retried within a second (retryBaseSeconds)", async () => {
    const requestKey = await start();
    const ofThis = () =>
      deliveries.filter((d) => d.event.type === "upload.started" && d.event.data.requestKey === requestKey);
    await until(
      "the upload.started delivery to succeed on its third attempt",
      () => ofThis().some((d) => d.status === 204),
      8_000,
    );
    expect(ofThis().map((d) => d.status)).toEqual([500, 500, 204]);
    expect(new Set(ofThis().map((d) => d.event.id)).size).toBe(1);
    expect(ofThis()[0]!.event.data).toMatchObject({ projectId: PROJECT, requestKey, metadata: { desk: "sport" } });
  });

  it("expiry: an upload 2 minutes past its URLs is aborted by the next sweeps (graceSeconds 60, sweepIntervalSeconds 0.2); one 30 s past stays", async () => {
    const [stale, withinGrace] = [await start(), await start()];
    await backdate(stale, 120);
    await backdate(withinGrace, 30);
    await until("the stale upload to expire", async () => (await stateOf(stale)) === "aborted", 8_000);
    await until("onExpired", () => expired.length > 0);
    expect(expired.map((c) => c.event.data.requestKey)).toEqual([stale]);
    await new Promise((r) => setTimeout(r, 600)); // more sweeps: the one within its grace is left alone
    expect(await stateOf(withinGrace)).toBe("uploading");
    expect(expired).toHaveLength(1);
    await until(
      "the upload.expired webhook",
      () => deliveries.some((d) => d.event.type === "upload.expired" && d.status === 204),
      8_000,
    );
  });

  it("bad values are refused at start, one line per problem naming the option", async () => {
    const problems = await createUploadGateway({
      storage: { type: "local", dir },
      publicUrl: "http://127.0.0.1:1",
      auth: { projects: { projects: [], apiKeys: [] } },
      webhooks: { timeoutSeconds: 0, retryBaseSeconds: Number.NaN, allowPrivateNetworks: "yes" as never },
      expiry: { graceSeconds: -1, sweepIntervalSeconds: "often" as never },
    }).then(
      () => expect.unreachable("started with bad options"),
      (error: unknown) => (error as ConfigError).problems,
    );
    expect([...problems].sort()).toEqual([
      "expiry.graceSeconds: must be 0 or more",
      "expiry.sweepIntervalSeconds: must be a finite number",
      "webhooks.allowPrivateNetworks: must be a boolean",
      "webhooks.retryBaseSeconds: must be a finite number",
      "webhooks.timeoutSeconds: must be more than 0",
    ]);
  });
});
