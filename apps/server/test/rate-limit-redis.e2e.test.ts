import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { startRedisServer, type RedisServer } from "@upload-gateway/redis-server";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import { s3Env, throwawayGateways } from "./support/gateway";
import { freePort, killServerProcesses, startServerProcess } from "./support/server-process";
import { until } from "./support/until";

/**
 * Rate limits shared by two gateway replicas through one Redis (Debian's redis-server, started for this file), and
 * what happens when that Redis goes away mid-run and comes back.
 */

const KEY = "key-shared-0123456789abcdef";
let redis: RedisServer;
const gateways = throwawayGateways();

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.close();
});
afterEach(async () => {
  await killServerProcesses();
  await gateways.closeAll();
  if (!redis.running) await redis.start();
});

interface Replica {
  app: NestFastifyApplication;
  logs: Record<string, any>[];
}

/** One gateway replica on `redis`, its projects file naming `project` (limited to `perMinute`) and KEY. */
async function replica(project: string, env: Record<string, string>, perMinute = 60): Promise<Replica> {
  const logs: Record<string, any>[] = [];
  const destination = { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, any>) };
  const app = await gateways.start({
    projects: {
      projects: [{ id: project, rateLimitPerMinute: perMinute }],
      apiKeys: [{ name: "shared", sha256: sha256Hex(KEY), projects: ["*"] }],
    },
    env: { REDIS_URL: redis.url, LOG_LEVEL: "info", ...env },
    logging: { destination },
  });
  return { app, logs };
}

const list = (gw: NestFastifyApplication, project: string, key: string | undefined, remoteAddress = "198.51.100.7") =>
  gw.inject({
    method: "GET",
    url: `/api/projects/${project}/uploads?limit=1`,
    remoteAddress,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });

const freshProject = () => `shared-${randomBytes(4).toString("hex")}`;

async function storeErrors(gw: NestFastifyApplication): Promise<number> {
  const metrics = (await gw.inject({ method: "GET", url: "/metrics" })).body;
  const line = /^upload_gateway_rate_limit_store_errors_total (\d+)$/m.exec(metrics);
  if (!line) throw new Error("upload_gateway_rate_limit_store_errors_total is missing from /metrics");
  return Number(line[1]);
}

describe("rate limits in Redis, shared by two replicas", () => {
  it("count one key once across both: 60 a minute allows 60 of 120, not 120", async () => {
    const project = freshProject();
    // With the default 200 ms timeout: 120 requests at once keep this process's event loop busy for longer than that
    // on a loaded machine, which must not be taken for a Redis that does not answer.
    const replicas = [await replica(project, {}), await replica(project, {})];
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 120 }, (_, i) => list(replicas[i % 2]!.app, project, KEY)));
    // A token comes back every second at 60 a minute: a slow machine may earn one or two while the 120 are sent.
    const refilled = Math.floor((Date.now() - started) / 1000);
    // Each replica got 60 requests, so each alone would have allowed all of them.
    const allowed = replies.filter((r) => r.statusCode === 200);
    expect(allowed.length).toBeGreaterThanOrEqual(60);
    expect(allowed.length).toBeLessThanOrEqual(60 + refilled);
    expect(replies.filter((r) => r.statusCode === 429)).toHaveLength(120 - allowed.length);
    expect((await storeErrors(replicas[0]!.app)) + (await storeErrors(replicas[1]!.app))).toBe(0);
    const refused = replies.find((r) => r.statusCode === 429)!;
    expect(refused.headers["ratelimit-limit"]).toBe("60");
    const envelope = { statusCode: 429, errorDetails: [{ code: "RATE_LIMITED", retryable: true }] };
    expect(refused.json()).toMatchObject(envelope);
  });

  it("count requests without a valid key per IP across both", async () => {
    const project = freshProject();
    const env = { RATE_LIMIT_PER_IP_PER_MINUTE: "4" };
    const [a, b] = [await replica(project, env), await replica(project, env)];
    const address = `203.0.113.${1 + Math.floor(Math.random() * 250)}`;
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await list(i % 2 ? a.app : b.app, project, "guess-0123456789abcdef", address)).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
  });

  it("keep serving while Redis is down (the metric counts, one log line), and limit again once back", async () => {
    const project = freshProject();
    const { app, logs } = await replica(project, {}, 5);
    const before = [];
    for (let i = 0; i < 6; i++) before.push((await list(app, project, KEY)).statusCode);
    expect(before).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await storeErrors(app)).toBe(0);

    await redis.stop();
    const during = [];
    for (let i = 0; i < 30; i++) during.push(await list(app, project, KEY));
    expect(during.map((r) => r.statusCode)).toEqual(Array.from({ length: 30 }, () => 200));
    // Uncounted: no RateLimit-* headers that would claim a count.
    expect(during.every((r) => r.headers["ratelimit-remaining"] === undefined)).toBe(true);
    expect(await storeErrors(app)).toBe(30);
    const warnings = logs.filter((line) => /Rate limits are not counted/.test(String(line.msg)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40 });

    await redis.start();
    // Redis came back empty: the bucket starts full, so five more are allowed before the sixth is refused.
    const after: number[] = [];
    await until("the limit to apply again", async () => {
      after.push((await list(app, project, KEY)).statusCode);
      return after.at(-1) === 429;
    });
    expect(after.slice(-6)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(logs.filter((line) => /answers again/.test(String(line.msg)))).toHaveLength(1);
    expect(logs.filter((line) => /Rate limits are not counted/.test(String(line.msg)))).toHaveLength(1);
  });
});

describe("the built server with REDIS_URL", () => {
  it("loads the Redis client, says where limits are counted (without the password), and counts there", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gateway-redis-bin-"));
    try {
      const project = freshProject();
      const projectsFile = join(dir, "projects.json");
      writeFileSync(
        projectsFile,
        JSON.stringify({
          projects: [{ id: project }],
          apiKeys: [{ name: "bin", sha256: sha256Hex(KEY), projects: ["*"] }],
        }),
      );
      const s3 = Object.fromEntries(Object.entries(s3Env()).filter((entry): entry is [string, string] => !!entry[1]));
      const password = "s3cret-redis-password";
      const inspector = new Redis(redis.url);
      // Only this server's buckets from here on.
      await inspector.flushall().finally(() => inspector.disconnect());
      const server = await startServerProcess({
        ...s3,
        STORAGE: "s3",
        PROJECTS_FILE: projectsFile,
        PORT: String(await freePort()),
        LOG_LEVEL: "warn",
        REDIS_URL: redis.url.replace("redis://", `redis://:${password}@`),
      });
      expect(server.output()).toContain(`  limits:   shared by the replicas in Redis at ${redis.url}\n`);
      expect(server.output()).not.toContain(password);
      const reply = await fetch(`${server.url}/api/projects/${project}/uploads?limit=1`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(reply.status).toBe(200);
      expect(reply.headers.get("ratelimit-remaining")).toBe("599");
      const reader = new Redis(redis.url);
      try {
        expect(await reader.keys("upload-gateway:rate-limit:*")).toHaveLength(1);
      } finally {
        reader.disconnect();
      }
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
