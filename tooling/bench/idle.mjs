// The idle section of `pnpm bench` (issue 21): the S3 requests an idle gateway makes, with 1, 1,000 and 10,000
// projects (each with a webhook), counted by a proxy in front of RGW. Due work (webhook deliveries, expiries, content
// checks) is found in one due-ordered index in the store, so the figure should not grow with the number of projects.
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fmt, freePort, round, spawnNode, table } from "./lib/common.mjs";
import { startCountingProxy } from "./lib/s3.mjs";

/**
 * @typedef {{ mainJs: string, work: string, log: (line: string) => void, checkInterrupted: () => void,
 *   toStop: { stop(): Promise<void> }[] }} IdleContext
 * @typedef {{ projectCounts: number[], settleSeconds: number, measureSeconds: number }} IdleConfig
 */

/** A projects file of `count` projects, each with a webhook (to a port nobody listens on: nothing is sent idle). */
function projectsFileOf(/** @type {string} */ dir, /** @type {number} */ count) {
  const apiKey = `idle_${randomBytes(16).toString("hex")}`;
  const projects = Array.from({ length: count }, (_, i) => ({
    id: `idle-${count}-${i}`,
    webhooks: [{ url: "http://127.0.0.1:9/hook", secret: "idle-bench-secret-0123456789" }],
  }));
  const path = join(dir, `idle-projects-${count}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      projects,
      apiKeys: [
        { name: "idle", sha256: createHash("sha256").update(apiKey).digest("hex"), projects: [projects[0].id] },
      ],
    }),
  );
  return path;
}

/**
 * For each project count: a gateway (S3 mode, default polls: webhooks every 5 s, content checks every 10 s, expiry every
 * 300 s) whose S3 traffic goes through a counting proxy; after it has settled, its requests over `measureSeconds`, per
 * minute.
 * @param {IdleContext} ctx @param {IdleConfig} config @param {Record<string, string>} s3Env
 */
export async function benchIdle(ctx, config, s3Env) {
  /** @type {Record<string, { projects: number, requestsPerMinute: number, byOperation: Record<string, number> }>} */
  const out = {};
  for (const count of config.projectCounts) {
    ctx.checkInterrupted();
    ctx.log(`idle: ${fmt(count)} project(s), ${config.measureSeconds} s`);
    const proxy = await startCountingProxy(s3Env.S3_ENDPOINT);
    const port = await freePort();
    const gateway = await spawnNode(ctx.mainJs, [], {
      env: {
        PATH: process.env.PATH ?? "",
        ...s3Env,
        S3_ENDPOINT: proxy.url,
        S3_PUBLIC_ENDPOINT: s3Env.S3_ENDPOINT,
        STORAGE: "s3",
        PROJECTS_FILE: projectsFileOf(ctx.work, count),
        HOST: "127.0.0.1",
        PORT: String(port),
        LOG_LEVEL: "warn",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      },
      readyPattern: /running at (\S+?)\/?\n/,
      timeoutMs: 120_000,
      name: `gateway (idle, ${count} projects)`,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, config.settleSeconds * 1000));
      proxy.take();
      await new Promise((resolve) => setTimeout(resolve, config.measureSeconds * 1000));
      const byOperation = proxy.take();
      const total = Object.values(byOperation).reduce((a, b) => a + b, 0);
      out[count] = {
        projects: count,
        requestsPerMinute: round((total * 60) / config.measureSeconds, 1),
        byOperation,
      };
    } finally {
      await gateway.stop();
      await proxy.close();
    }
  }
  return { settleSeconds: config.settleSeconds, measureSeconds: config.measureSeconds, counts: out };
}

/** @param {any} idle */
export function idleReport(idle) {
  if (!idle) return [];
  if (idle.error) return [`Idle S3 requests: failed: ${idle.error}`];
  const rows = Object.values(idle.counts).map((/** @type {any} */ c) => [
    fmt(c.projects),
    fmt(c.requestsPerMinute, 1),
    Object.entries(c.byOperation)
      .map(([op, n]) => `${op} ${n}`)
      .join(", ") || "none",
  ]);
  return [
    `**Idle S3 requests** of a gateway with no traffic (each project with a webhook; polls: webhooks every 5 s, content checks every 10 s, expiry every 300 s), counted by a proxy in front of RGW over ${idle.measureSeconds} s after ${idle.settleSeconds} s of settling\n\n` +
      table(["projects", "requests/min", `requests in ${idle.measureSeconds} s`], rows),
  ];
}

/** @param {any} idle */
export function idleTargets(idle) {
  if (!idle || idle.error) return [];
  const one = idle.counts["1"];
  /** @type {{ name: string, target: string, actual: string, met: boolean }[]} */
  const list = [];
  for (const many of [idle.counts["1000"], idle.counts["10000"]]) {
    if (!one || !many) continue;
    const allowed = 2 * one.requestsPerMinute + 10;
    list.push({
      name: `idle S3 requests/min, ${fmt(many.projects)} projects vs 1 (issue 21)`,
      target: `≤ 2× + 10 (${fmt(allowed, 1)})`,
      actual: `${fmt(many.requestsPerMinute, 1)} vs ${fmt(one.requestsPerMinute, 1)}`,
      met: many.requestsPerMinute <= allowed,
    });
  }
  return list;
}
