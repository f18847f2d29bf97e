import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyWebhook, type UploadEvent } from "@upload-gateway/contract";
import { afterAll, afterEach, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import { freePort, s3Env } from "./support/gateway";
import { killServerProcesses, startServerProcess, type ServerProcess } from "./support/server-process";

/**
 * Webhooks across real processes (the built bin), as replicas run in production: two gateway processes on one S3
 * bucket (the test RGW), a receiver that fails each event's first two deliveries, and one replica SIGKILLed in the
 * middle of delivering, then started again. Every event is delivered; a delivery the killed replica held is taken
 * over once its lease runs out (the delivery timeout plus 15 s).
 */

const secret = `whsec-${randomBytes(16).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "gateway-webhook-processes-"));
let receiver: Server | undefined;

afterEach(async () => {
  await killServerProcesses();
});
afterAll(async () => {
  await new Promise((done) => (receiver ? receiver.close(done) : done(undefined)));
  rmSync(dir, { recursive: true, force: true });
});

it("two gateway processes, one killed mid-delivery and restarted: every event delivered, once", async () => {
  const attempts = new Map<string, number>();
  const deliveries: { status: number; event: UploadEvent }[] = [];
  let onFirstDelivery: (() => void) | undefined;
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      void verifyWebhook(
        secret,
        request.headers["upload-gateway-signature"] as string,
        Buffer.concat(chunks).toString("utf8"),
      ).then(
        (event) => {
          const attempt = (attempts.get(event.id) ?? 0) + 1;
          attempts.set(event.id, attempt);
          const status = attempt <= 2 ? 500 : 204;
          deliveries.push({ status, event });
          onFirstDelivery?.(); // kills replica A before this reply: A dies holding its delivery
          onFirstDelivery = undefined;
          response.writeHead(status).end();
        },
        () => response.writeHead(400).end(),
      );
    });
  });
  await new Promise<void>((done) => receiver!.listen(0, "127.0.0.1", done));

  const projectId = `wp-${randomBytes(6).toString("hex")}`;
  const apiKey = `key-${randomBytes(16).toString("hex")}`;
  const projectsFile = join(dir, "projects.json");
  writeFileSync(
    projectsFile,
    JSON.stringify({
      projects: [
        {
          id: projectId,
          webhooks: [
            {
              url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`,
              secret,
              events: ["upload.started"],
            },
          ],
        },
      ],
      apiKeys: [{ name: "t", sha256: sha256Hex(apiKey), projects: [projectId] }],
    }),
  );
  const s3 = Object.fromEntries(
    Object.entries(s3Env()).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const replica = async (): Promise<ServerProcess> =>
    startServerProcess({
      ...s3,
      STORAGE: "s3",
      S3_FORCE_PATH_STYLE: "true",
      PROJECTS_FILE: projectsFile,
      PORT: String(await freePort()),
      LOG_LEVEL: "error",
      RATE_LIMIT_PER_MINUTE: "0",
      RATE_LIMIT_PER_IP_PER_MINUTE: "0",
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true",
      WEBHOOK_TIMEOUT_SECONDS: "1",
      WEBHOOK_RETRY_BASE_SECONDS: "0.5",
      WEBHOOK_RETRY_MAX_SECONDS: "1",
      WEBHOOK_POLL_INTERVAL_SECONDS: "0.2",
    });

  const [a, b] = await Promise.all([replica(), replica()]);
  let killed: Promise<void> | undefined;
  onFirstDelivery = () => void (killed = a.stop("SIGKILL"));
  const start = async (server: ServerProcess) => {
    const reply = await fetch(`${server.url}/api/projects/${projectId}/uploads/multipart`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ partsNumber: 1, fileName: "clip.mp4", contentLength: "1000", mimeType: "video/mp4" }),
    });
    expect(reply.status).toBe(200);
    return ((await reply.json()) as { result: { requestKey: string } }).result.requestKey;
  };
  // A records its events and starts delivering them at once: it is killed on the first delivery it makes.
  const keys = [await start(a)];
  for (let waited = 0; !killed && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  expect(killed, "replica A made no delivery").toBeDefined();
  await killed;
  keys.push(await start(b), await start(b));
  const restarted = await replica();
  keys.push(await start(restarted));

  const delivered = () => new Set(deliveries.filter((d) => d.status === 204).map((d) => d.event.data.requestKey));
  for (let waited = 0; delivered().size < keys.length && waited < 25_000; waited += 100)
    await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1000)); // time for a duplicate to show
  expect([...delivered()].sort()).toEqual([...keys].sort());
  // At least once, and here exactly once: A died before any event could have its third (successful) attempt, so
  // nothing acknowledged was left undeleted; the replicas' compare-and-swap leases keep them from delivering twice.
  const successes = new Map<string, number>();
  for (const d of deliveries.filter((d) => d.status === 204))
    successes.set(d.event.id, (successes.get(d.event.id) ?? 0) + 1);
  expect([...successes.values()]).toEqual(keys.map(() => 1));
  // Each event was tried twice and failed before it succeeded, the killed one included: the same id every time.
  const byKey = new Map<string, Set<string>>();
  for (const d of deliveries)
    byKey.set(d.event.data.requestKey, (byKey.get(d.event.data.requestKey) ?? new Set()).add(d.event.id));
  for (const ids of byKey.values()) expect(ids.size).toBe(1);
}, 60_000);
