import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { afterAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import type { UploadGatewayOptions } from "../src/index";
import type { UploadHookContext } from "../src/uploads/lifecycle/upload-lifecycle.hooks";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { newRequestKey, openSlotKey } from "../src/uploads/upload-keys";
import { backdateUpload } from "./support/backdate";
import { moduleApp, NO_RATE_LIMITS, testS3Storage, throwawayGateways } from "./support/gateway";
import { call } from "./support/http";
import { until } from "./support/until";

/**
 * The expiry sweep, on both stores (same test names): an upload whose URLs expired more than the grace ago is aborted
 * once, `upload.expired` emitted once, however many replicas sweep. URLs last at least an hour, so the tests move an
 * upload's expiry into the past in its record instead of waiting.
 */

const body = { partsNumber: 1, fileName: "clip.mp4", contentLength: "4096", mimeType: "video/mp4" };

describe.each(["local", "s3"] as const)("upload expiry on %s storage", (storage) => {
  const dir = mkdtempSync(join(tmpdir(), "gateway-expiry-"));
  const projectId = `ex-${randomBytes(6).toString("hex")}`;
  const apiKey = `key-${randomBytes(16).toString("hex")}`;
  const projects = {
    projects: [{ id: projectId }],
    apiKeys: [{ name: "t", sha256: sha256Hex(apiKey), projects: [projectId] }],
  };
  const expired: UploadHookContext[] = [];
  const aborted: UploadHookContext[] = [];
  const gateways = throwawayGateways();
  const apps: NestFastifyApplication[] = [];
  const auth = { authorization: `Bearer ${apiKey}` };
  const uploads = `/api/projects/${projectId}/uploads`;

  /** A replica: every gateway of this describe shares the projects file and, on the embedded store, its data. */
  async function gateway(): Promise<NestFastifyApplication> {
    const app = await gateways.start({
      storage,
      dir,
      projects,
      env: { ...NO_RATE_LIMITS, UPLOAD_EXPIRY_GRACE_SECONDS: "1", UPLOAD_EXPIRY_SWEEP_SECONDS: "0.2" },
      // Gateways sweep every project in the store: the test bucket holds other tests' (and earlier runs') uploads.
      extensions: {
        hooks: {
          onExpired: (c) => void (c.upload.projectId === projectId && expired.push(c)),
          onAborted: (c) => void aborted.push(c),
        },
      },
      listen: storage === "local",
    });
    apps.push(app);
    return app;
  }

  const backdate = (app: NestFastifyApplication, requestKey: string, secondsAgo: number) =>
    backdateIn(app, projectId, requestKey, secondsAgo);

  const stateOf = async (app: NestFastifyApplication, requestKey: string) =>
    (await call(app, "GET", `${uploads}/${requestKey}`, { headers: auth })).body.result.state as string;

  afterAll(async () => {
    await gateways.closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it("aborts an upload its grace after its URLs expired, once, with upload.expired; a fresh one and one whose URLs still work stay", async () => {
    const app = await gateway();
    const start = async () =>
      (await call(app, "POST", `${uploads}/multipart`, { body, headers: auth })).body.result.requestKey as string;
    const [stale, withinGrace, fresh] = [await start(), await start(), await start()];
    await backdate(app, stale, 5);
    await backdate(app, withinGrace, -30); // still valid for 30 s
    await until("the stale upload expired", async () => (await stateOf(app, stale)) === "aborted");
    await new Promise((r) => setTimeout(r, 600)); // a few more sweeps: nothing else changes, nothing twice
    expect(await stateOf(app, withinGrace)).toBe("uploading");
    expect(await stateOf(app, fresh)).toBe("uploading");
    expect(expired.map((c) => c.upload.requestKey)).toEqual([stale]);
    expect(expired[0]!.event).toMatchObject({ type: "upload.expired", data: { requestKey: stale, projectId } });
    expect(expired[0]!.upload).toMatchObject({ state: "aborted", abortedBy: "expiry" });
    // The client's calls after it: complete is refused, abort answers true (it is aborted) and runs no hook.
    const complete = await call(app, "PUT", `${uploads}/multipart-complete`, {
      body: { requestKey: stale, parts: [{ partNumber: 1, eTag: "x" }] },
      headers: auth,
    });
    expect(complete.status).toBe(409);
    expect(
      (await call(app, "PUT", `${uploads}/multipart-abort`, { body: { requestKey: stale }, headers: auth })).status,
    ).toBe(200);
    expect(aborted).toEqual([]);
    // The metric counts it.
    expect((await app.inject({ method: "GET", url: "/metrics" })).body).toMatch(
      new RegExp(`upload_gateway_uploads_expired_total\\{project="${projectId}"\\} 1`),
    );
  });

  if (storage === "s3") {
    it("two replicas sweeping one store expire each upload once", async () => {
      const second = await gateway();
      const [first] = apps;
      const keys: string[] = [];
      for (let i = 0; i < 4; i++) {
        keys.push(
          (await call(i % 2 ? second : first!, "POST", `${uploads}/multipart`, { body, headers: auth })).body.result
            .requestKey,
        );
      }
      const before = expired.length;
      await Promise.all(keys.map((k) => backdate(first!, k, 5)));
      await until("every upload expired", async () =>
        (await Promise.all(keys.map((k) => stateOf(first!, k)))).every((s) => s === "aborted"),
      );
      await new Promise((r) => setTimeout(r, 600));
      expect(
        expired
          .slice(before)
          .map((c) => c.upload.requestKey)
          .sort(),
      ).toEqual([...keys].sort());
    });
  }
});

/**
 * With a custom auth resolver the gateway has no list of projects: the sweep finds them in the store's index of
 * projects with uploads, so a process that never saw a start (a restart, another replica) sweeps them too.
 */
describe.each(["local", "s3"] as const)("upload expiry with a custom auth resolver on %s storage", (storage) => {
  const dir = mkdtempSync(join(tmpdir(), "gateway-expiry-resolver-"));
  const projectId = `exr-${randomBytes(6).toString("hex")}`;
  const apiKey = `key-${randomBytes(16).toString("hex")}`;
  const auth = { authorization: `Bearer ${apiKey}` };
  const uploads = `/api/projects/${projectId}/uploads`;
  const expired: UploadHookContext[] = [];
  const apps: NestFastifyApplication[] = [];
  const store = storage === "s3" ? testS3Storage() : undefined;

  /** An app of the platform's: its resolver knows one key for one project; `sweep` turns the expiry sweep on. */
  async function platformApp(sweep: boolean): Promise<NestFastifyApplication> {
    const options: UploadGatewayOptions = {
      storage: store ?? { type: "local", dir, fsync: false },
      publicUrl: "http://127.0.0.1:1",
      auth: {
        resolve: ({ projectId: asked, headers }) =>
          asked === projectId && headers.authorization === auth.authorization ? { id: projectId } : null,
      },
      expiry: { graceSeconds: 1, sweepIntervalSeconds: sweep ? 0.2 : 0 },
      hooks: { onExpired: (c) => void (c.upload.projectId === projectId && expired.push(c)) }, // not other tests' uploads
    };
    const app = await moduleApp(options);
    apps.push(app);
    return app;
  }

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("a process that never saw the upload's start, after the one that started it stopped, expires it", async () => {
    const starter = await platformApp(false);
    const started = await call(starter, "POST", `${uploads}/multipart`, { body, headers: auth });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const requestKey = started.body.result.requestKey as string;
    await backdateIn(starter, projectId, requestKey, 5);
    await starter.close();

    const sweeper = await platformApp(true);
    await until("the upload expired", () => expired.some((c) => c.upload.requestKey === requestKey));
    await new Promise((r) => setTimeout(r, 600)); // more sweeps: nothing twice
    expect(expired.map((c) => c.upload.requestKey)).toEqual([requestKey]);
    const status = await call(sweeper, "GET", `${uploads}/${requestKey}`, { headers: auth });
    expect(status.body.result.state).toBe("aborted");
  });

  if (storage === "local") {
    it("reaches an upload whose marker lists after the first page of 1,000", async () => {
      const app = await platformApp(true);
      const started = await call(app, "POST", `${uploads}/multipart`, { body, headers: auth });
      const requestKey = started.body.result.requestKey as string;
      // 1,000 markers sort before its place's (ASCII "-" before digits); they have no records, so the expiry passes
      // over them.
      const storeOfApp = app.get<Storage>(STORAGE);
      const now = Date.now();
      for (let i = 1; i <= 1000; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            storeOfApp.writeJson(`${openSlotKey(projectId, 0).slice(0, -1)}-x${i + j}`, {
              requestKey: newRequestKey(now + 60_000 + i + j),
              createdAt: new Date(now).toISOString(),
            }),
          ),
        );
      }
      await backdateIn(app, projectId, requestKey, 5);
      await until("the oldest upload expired", () => expired.some((c) => c.upload.requestKey === requestKey), 20_000);
    });
  }
});

/** Moves an upload's URL expiry `secondsAgo` into the past, as if that much time had gone by. */
async function backdateIn(
  app: NestFastifyApplication,
  projectId: string,
  requestKey: string,
  secondsAgo: number,
): Promise<void> {
  await backdateUpload(app.get<Storage>(STORAGE), projectId, requestKey, secondsAgo);
}
