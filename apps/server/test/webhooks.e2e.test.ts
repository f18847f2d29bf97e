import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { verifyWebhook, WebhookVerificationError, type UploadEvent } from "@upload-gateway/contract";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import type { UploadGatewayOptions, WebhookTargetsOf } from "../src/index";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { DueIndex, dueKindPrefix } from "../src/scheduling/due-index";
import { WEBHOOK_KIND } from "../src/webhooks/webhook-outbox.service";
import { freePort, moduleApp, NO_RATE_LIMITS, throwawayGateways } from "./support/gateway";
import { call } from "./support/http";
import { until as waitUntil } from "./support/until";

/**
 * Signed webhooks from the outbox in the store: the signature, retries after a receiver's failures, a restart with
 * deliveries pending, two replicas on one store, and private targets refused by default. Intervals are shortened by
 * configuration, so each test takes a second or two.
 */

const SECRET = "whsec_0123456789abcdef0123";
const SIZE = 4096;
const body = { partsNumber: 1, fileName: "clip.mp4", contentLength: String(SIZE), mimeType: "video/mp4" };
const FAST = {
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true",
  WEBHOOK_RETRY_BASE_SECONDS: "0.2",
  WEBHOOK_POLL_INTERVAL_SECONDS: "0.2",
  WEBHOOK_TIMEOUT_SECONDS: "3",
};

interface Delivery {
  signature: string | undefined;
  raw: string;
  event: UploadEvent;
  status: number;
}

interface Receiver {
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}

/** A receiver's reply: a status, or a status sent only after a while (a slow receiver). */
type Answer = number | { status: number; afterMs: number };

/** A webhook receiver on loopback; `answer` picks each reply (200 at once by default). */
async function startReceiver(
  port = 0,
  answer: (event: UploadEvent, earlier: Delivery[]) => Answer = () => 200,
): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((request, response) => {
    let raw = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (raw += chunk));
    request.on("end", () => {
      const event = JSON.parse(raw) as UploadEvent;
      const reply = answer(
        event,
        deliveries.filter((d) => d.event.id === event.id),
      );
      const { status, afterMs } = typeof reply === "number" ? { status: reply, afterMs: 0 } : reply;
      deliveries.push({
        signature: request.headers["upload-gateway-signature"] as string | undefined,
        raw,
        event,
        status,
      });
      setTimeout(() => response.writeHead(status).end(), afterMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: bound } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${bound}/hooks`,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Setup {
  projectId: string;
  apiKey: string;
  /** The projects file's content. */
  projects: unknown;
  dir: string;
}

function setUp(webhooks: unknown[]): Setup {
  const dir = mkdtempSync(join(tmpdir(), "gateway-webhooks-"));
  const projectId = `wh-${randomBytes(6).toString("hex")}`;
  const apiKey = `key-${randomBytes(16).toString("hex")}`;
  const projects = {
    projects: [{ id: projectId, webhooks }],
    apiKeys: [{ name: "t", sha256: sha256Hex(apiKey), projects: [projectId] }],
  };
  return { projectId, apiKey, projects, dir };
}

const gateways = throwawayGateways();
const dirs: string[] = [];
const receivers: Receiver[] = [];

/** A gateway on the setup's projects file: local (its data dir in the setup's dir, listening) or on the test S3. */
const gateway = (setup: Setup, storage: "local" | "s3", env: Record<string, string> = FAST) =>
  gateways.start({
    storage,
    dir: setup.dir,
    projects: setup.projects,
    env: { ...NO_RATE_LIMITS, ...env },
    listen: storage === "local",
  });

afterEach(async () => {
  await gateways.closeAll();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tracked(setup: Setup): Setup {
  dirs.push(setup.dir);
  return setup;
}

async function receiver(port?: number, answer?: Parameters<typeof startReceiver>[1]): Promise<Receiver> {
  const started = await startReceiver(port, answer);
  receivers.push(started);
  return started;
}

/** Deliveries are waited for longer than the default: retries back off. */
const until = (what: string, condition: () => boolean, timeoutMs = 15_000) => waitUntil(what, condition, timeoutMs);

const api = (app: NestFastifyApplication, setup: Setup) => ({
  start: (payload: unknown = body) =>
    call(app, "POST", `/api/projects/${setup.projectId}/uploads/multipart`, {
      body: payload,
      headers: { authorization: `Bearer ${setup.apiKey}` },
    }),
  complete: (payload: unknown) =>
    call(app, "PUT", `/api/projects/${setup.projectId}/uploads/multipart-complete`, {
      body: payload,
      headers: { authorization: `Bearer ${setup.apiKey}` },
    }),
});

describe("webhooks", () => {
  it("deliver signed events that verifyWebhook accepts, carrying the start's metadata; a wrong secret or an old signature is refused", async () => {
    const hooks = await receiver();
    const setup = tracked(setUp([{ url: hooks.url, secret: SECRET, events: ["upload.started", "upload.completed"] }]));
    const app = await gateway(setup, "local");
    const client = api(app, setup);
    const started = await client.start({ ...body, metadata: { title: "Été", ownerId: "42" } });
    expect(started.status).toBe(200);
    const { requestKey, uploadId, presignedUrl } = started.body.result;
    const put = await fetch(presignedUrl[0].presignedUrl, { method: "PUT", body: new Uint8Array(SIZE) });
    expect(
      (await client.complete({ requestKey, parts: [{ partNumber: 1, eTag: put.headers.get("etag") }] })).status,
    ).toBe(200);
    await until("two deliveries", () => hooks.deliveries.length >= 2);
    expect(hooks.deliveries.map((d) => d.event.type).sort()).toEqual(["upload.completed", "upload.started"]);
    const completed = hooks.deliveries.find((d) => d.event.type === "upload.completed")!;
    const event = await verifyWebhook(SECRET, completed.signature, completed.raw);
    expect(event).toEqual({
      id: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
      type: "upload.completed",
      createdAt: expect.any(String),
      data: {
        projectId: setup.projectId,
        requestKey,
        uploadId,
        fileName: "clip.mp4",
        mimeType: "video/mp4",
        size: SIZE,
        metadata: { title: "Été", ownerId: "42" },
      },
    });
    expect(completed.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    await expect(verifyWebhook("another-secret-0123456789", completed.signature, completed.raw)).rejects.toBeInstanceOf(
      WebhookVerificationError,
    );
    await expect(
      verifyWebhook(SECRET, completed.signature, completed.raw, { now: Date.now() + 600_000 }),
    ).rejects.toMatchObject({ reason: "too-old" });
  });

  it("retry a delivery the receiver failed, with the same event id, until it answers 2xx", async () => {
    const hooks = await receiver(0, (_event, earlier) => (earlier.length < 2 ? 500 : 200));
    const setup = tracked(setUp([{ url: hooks.url, secret: SECRET, events: ["upload.started"] }]));
    const app = await gateway(setup, "local");
    expect((await api(app, setup).start()).status).toBe(200);
    await until("a delivery answered 200", () => hooks.deliveries.some((d) => d.status === 200));
    expect(hooks.deliveries.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(new Set(hooks.deliveries.map((d) => d.event.id)).size).toBe(1);
    await new Promise((r) => setTimeout(r, 1000)); // delivered: never sent again
    expect(hooks.deliveries).toHaveLength(3);
  });

  it("survive a restart: deliveries pending when the gateway stops are made by the next one on the same store", async () => {
    const port = await freePort(); // nothing listens there yet: every delivery fails
    const setup = tracked(setUp([{ url: `http://127.0.0.1:${port}/hooks`, secret: SECRET }]));
    const first = await gateway(setup, "local");
    const started = await api(first, setup).start();
    expect(started.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500)); // a failed attempt or two
    await gateways.close(first);
    const hooks = await receiver(port);
    await gateway(setup, "local");
    await until("the pending delivery", () => hooks.deliveries.length >= 1);
    expect(hooks.deliveries[0]!.event).toMatchObject({
      type: "upload.started",
      data: { requestKey: started.body.result.requestKey },
    });
  });

  it("stop cleanly while a retry is being delivered: the delivery is settled first, not left leased to hold back the next process", async () => {
    // The first delivery fails; the sweep's retry is answered only after 1.5 s, and the gateway stops meanwhile.
    const hooks = await receiver(0, (_event, earlier) => (earlier.length === 0 ? 503 : { status: 503, afterMs: 1500 }));
    const setup = tracked(setUp([{ url: hooks.url, secret: SECRET, events: ["upload.started"] }]));
    const first = await gateway(setup, "local");
    const storage = first.get<Storage>(STORAGE);
    expect((await api(first, setup).start()).status).toBe(200);
    await until("the retry in flight", () => hooks.deliveries.length >= 2);
    await gateways.close(first);
    // A process would exit now: a lease still held would keep every other process from the delivery for the
    // delivery timeout plus 15 s.
    const listed = await storage.listKeys(dueKindPrefix(WEBHOOK_KIND), { limit: 1000 });
    const keys = listed.keys.filter((k) => k.includes(`/${setup.projectId}:`));
    expect(keys).toHaveLength(1);
    const entry = (await storage.readDocument(keys[0]!))?.value as { lease?: unknown; attempts: number };
    expect(entry.lease).toBeUndefined();
    expect(entry.attempts).toBe(2);
  });

  it("from two replicas on one store: each event is delivered, and no delivery is made twice", async () => {
    // Every event's first delivery fails, so both replicas' sweeps go after the retry at once.
    const hooks = await receiver(0, (_event, earlier) => (earlier.length === 0 ? 503 : 200));
    const setup = tracked(setUp([{ url: hooks.url, secret: SECRET, events: ["upload.started"] }]));
    const replicas = [await gateway(setup, "s3"), await gateway(setup, "s3")];
    const keys: string[] = [];
    for (let i = 0; i < 6; i++) {
      const started = await api(replicas[i % 2]!, setup).start();
      expect(started.status).toBe(200);
      keys.push(started.body.result.requestKey);
    }
    await until(
      "every event delivered",
      () =>
        new Set(hooks.deliveries.filter((d) => d.status === 200).map((d) => d.event.data.requestKey)).size ===
        keys.length,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1000)); // time for a duplicate to show
    const byId = new Map<string, number[]>();
    for (const d of hooks.deliveries) byId.set(d.event.id, [...(byId.get(d.event.id) ?? []), d.status]);
    expect(byId.size).toBe(keys.length);
    for (const statuses of byId.values()) expect(statuses).toEqual([503, 200]);
  }, 60_000);

  it("refuse private and loopback targets unless WEBHOOK_ALLOW_PRIVATE_NETWORKS=true", async () => {
    const hooks = await receiver();
    const setup = tracked(setUp([{ url: hooks.url, secret: SECRET, events: ["upload.started"] }]));
    const app = await gateway(setup, "local", { ...FAST, WEBHOOK_ALLOW_PRIVATE_NETWORKS: "false" });
    expect((await api(app, setup).start()).status).toBe(200);
    const metrics = async () => (await app.inject({ method: "GET", url: "/metrics" })).body;
    const deadline = Date.now() + 10_000;
    let text = "";
    while (
      Date.now() < deadline &&
      !/upload_gateway_webhook_deliveries_total\{[^}]*outcome="failed"[^}]*\} [1-9]/.test(text)
    ) {
      await new Promise((r) => setTimeout(r, 100));
      text = await metrics();
    }
    expect(text).toMatch(/upload_gateway_webhook_deliveries_total\{[^}]*outcome="failed"[^}]*\} [1-9]/);
    expect(hooks.deliveries).toEqual([]);
  });
});

describe("webhook deliveries in the due index", () => {
  it("deliveries backing off do not hold back a due one", async () => {
    const hooks = await receiver();
    const setup = tracked(setUp([{ url: hooks.url, secret: SECRET, events: ["upload.started"] }]));
    const app = await gateway(setup, "local");
    expect((await api(app, setup).start()).status).toBe(200);
    await until("the start's delivery", () => hooks.deliveries.length === 1);
    const template = hooks.deliveries[0]!.event;
    // 150 deliveries waiting an hour (a receiver that has been down) and a due one: the due one sorts first in the
    // due index, and goes out at the next poll.
    const storage = app.get<Storage>(STORAGE);
    const now = Date.now();
    const index = new DueIndex(storage);
    const schedule = (id: string, dueAt: number) =>
      index.schedule(WEBHOOK_KIND, `${setup.projectId}:${id}`, dueAt, {
        event: { ...template, id },
        url: hooks.url,
        recordedAt: now,
      });
    for (let i = 0; i < 150; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => {
          const id = `00000000-0000-4000-8000-${String(i + j).padStart(12, "0")}`;
          return schedule(id, now + 3_600_000);
        }),
      );
    }
    const due = "ffffffff-ffff-4fff-bfff-ffffffffffff";
    await schedule(due, now);
    await until("the due delivery", () => hooks.deliveries.some((d) => d.event.id === due), 10_000);
  });
});

describe("webhooks.targets (UploadGatewayModule): a platform's own list of webhook targets, no projects file", () => {
  const projectId = `wht-${randomBytes(6).toString("hex")}`;
  const apiKey = `key-${randomBytes(16).toString("hex")}`;
  const auth = { authorization: `Bearer ${apiKey}` };
  const apps: NestFastifyApplication[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  /** An app whose resolver knows one project, and whose targets function gives its webhooks. */
  async function platformApp(dir: string, targets: WebhookTargetsOf) {
    const options: UploadGatewayOptions = {
      storage: { type: "local", dir, fsync: false },
      publicUrl: "http://127.0.0.1:1",
      auth: {
        resolve: ({ projectId: asked, headers }) =>
          headers.authorization === auth.authorization ? { id: asked } : null,
      },
      webhooks: {
        targets,
        allowPrivateNetworks: true,
        retryBaseSeconds: 0.2,
        pollIntervalSeconds: 0.2,
        timeoutSeconds: 3,
      },
    };
    const app = await moduleApp(options);
    apps.push(app);
    return app;
  }
  const start = (app: NestFastifyApplication, project = projectId) =>
    call(app, "POST", `/api/projects/${project}/uploads/multipart`, { body, headers: auth });

  it("delivers signed events to the URLs it gives; an unusable target is left out and the start still succeeds", async () => {
    const hooks = await receiver();
    const dir = tracked(setUp([])).dir;
    const asked: string[] = [];
    const app = await platformApp(dir, (id) => {
      asked.push(id);
      return id === projectId
        ? [{ url: hooks.url, secret: SECRET, events: ["upload.started"] }]
        : [{ url: "ftp://nope", secret: "short" }];
    });
    const started = await start(app);
    expect(started.status).toBe(200);
    await until("the delivery", () => hooks.deliveries.length === 1);
    const event = await verifyWebhook(SECRET, hooks.deliveries[0]!.signature, hooks.deliveries[0]!.raw);
    expect(event).toMatchObject({
      type: "upload.started",
      data: { projectId, requestKey: started.body.result.requestKey },
    });
    expect(asked).toContain(projectId);
    expect((await start(app, "other-project")).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(hooks.deliveries).toHaveLength(1);
  });

  it("a delivery pending at a restart is made by the next process, which learns the project from the store", async () => {
    const port = await freePort(); // nothing listens there yet: every delivery fails
    const url = `http://127.0.0.1:${port}/hooks`;
    const dir = tracked(setUp([])).dir;
    const targets = (id: string) =>
      id === projectId ? [{ url, secret: SECRET, events: ["upload.started" as const] }] : [];
    const first = await platformApp(dir, targets);
    const started = await start(first);
    expect(started.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500)); // a failed attempt or two
    await first.close();
    apps.splice(apps.indexOf(first), 1);
    const hooks = await receiver(port);
    await platformApp(dir, targets);
    await until("the pending delivery", () => hooks.deliveries.some((d) => d.status === 200));
    expect(hooks.deliveries.at(-1)!.event).toMatchObject({
      type: "upload.started",
      data: { requestKey: started.body.result.requestKey },
    });
  });
});
