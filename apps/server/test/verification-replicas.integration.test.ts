import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey, type ContentScanner, type ScanResult, type UploadGatewayOptions } from "../src/index";
import { moduleApp, testS3StorageOption } from "./support/gateway";
import { call } from "./support/http";
import { makeMediaFixtures } from "./support/media-fixtures";
import { until } from "./support/until";

/**
 * Three gateways (Nest apps) on one S3 bucket (RGW), as three replicas: the one that completes an upload hangs in its
 * content check (as if it had died); after its lease the other two race for the job, one takes it, and exactly one
 * `upload.verified` is reported across the three, also when the first one wakes up and finishes.
 */

const PROJECT = `v-${randomBytes(6).toString("hex")}`;
const apiKey = `key-${randomBytes(16).toString("hex")}`;
const auth = { authorization: `Bearer ${apiKey}` };
const uploads = `/api/projects/${PROJECT}/uploads`;

let dir: string;
const apps: NestFastifyApplication[] = [];
const verified: string[] = [];
const release: ((result: ScanResult) => void)[] = [];
let heldScans = 0;

/** The first replica's scanner: never answers until the test lets it. */
const hanging: ContentScanner = {
  name: "hanging",
  scan: () => {
    heldScans++;
    return new Promise((resolve) => release.push(resolve));
  },
};
const clean: ContentScanner = { name: "clean", scan: () => Promise.resolve({ verdict: "clean" }) };

function options(replica: string, scanner: ContentScanner): UploadGatewayOptions {
  return {
    storage: testS3StorageOption(),
    auth: {
      projects: {
        projects: [{ id: PROJECT, allowedMimeTypes: ["video/*"] }],
        apiKeys: [{ name: "app", sha256: hashApiKey(apiKey), projects: [PROJECT] }],
      },
    },
    scanners: [scanner],
    // A lease long enough that the first replica, slowed by a loaded machine, reaches its scan before it runs out.
    verification: { waitSeconds: 0.3, pollSeconds: 0.2, leaseSeconds: 3 },
    hooks: { onVerified: ({ upload }) => void verified.push(`${replica}:${upload.requestKey}`) },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "verify-replicas-"));
  makeMediaFixtures(dir);
  apps.push(await moduleApp(options("a", hanging)));
  apps.push(await moduleApp(options("b", clean)));
  apps.push(await moduleApp(options("c", clean)));
}, 120_000);
afterAll(async () => {
  release.splice(0).forEach((resolve) => resolve({ verdict: "clean" }));
  await Promise.all(apps.map((app) => app.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("content check across three replicas on one bucket", () => {
  it("a replica stuck mid-check: another takes the job after its lease; one upload.verified in all", async () => {
    const [a, b] = apps as [NestFastifyApplication, NestFastifyApplication];
    const video = new Uint8Array(readFileSync(join(dir, "mp4-index-at-start.mp4")));
    const started = await call(a, "POST", `${uploads}/multipart`, {
      headers: auth,
      body: { partsNumber: 1, fileName: "clip.mp4", contentLength: String(video.length), mimeType: "video/mp4" },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const { requestKey, presignedUrl } = started.body.result as {
      requestKey: string;
      presignedUrl: { presignedUrl: string }[];
    };
    const put = await fetch(presignedUrl[0]!.presignedUrl, { method: "PUT", body: video });
    const parts = [{ partNumber: 1, eTag: put.headers.get("etag")! }];
    const completed = await call(a, "PUT", `${uploads}/multipart-complete`, {
      headers: auth,
      body: { requestKey, parts },
    });
    expect(completed.body).toMatchObject({ success: true, result: true }); // answered within its wait, undecided
    // On a loaded machine the inspection before the scan can outlast the complete's 0.3 s wait: the scan comes later.
    await until("the first replica stuck in its scan", () => heldScans === 1, 15_000);
    const pending = await call(b, "POST", `${uploads}/success/${requestKey}`, { headers: auth });
    expect(pending.status).toBe(409);
    const state = async () =>
      (await call(b, "GET", `${uploads}/${requestKey}`, { headers: auth })).body.result.verification.state as string;
    await until("another replica's verdict", async () => (await state()) === "passed", 15_000);
    release.splice(0).forEach((resolve) => resolve({ verdict: "clean" })); // the stuck one finishes: no second event
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(verified).toHaveLength(1);
    expect(verified[0]).toMatch(/^[bc]:/);
    const link = await call(a, "POST", `${uploads}/success/${requestKey}`, { headers: auth });
    expect(link.status, JSON.stringify(link.body)).toBe(200);
  });
});
