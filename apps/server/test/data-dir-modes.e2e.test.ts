import { randomBytes } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dueKindPrefix } from "../src/scheduling/due-index";
import { WEBHOOK_KIND } from "../src/webhooks/webhook-outbox.service";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { startGateway, type TestGateway } from "./support/gateway";
import { call } from "./support/http";
import { until } from "./support/until";

/**
 * The embedded store's data dir holds every upload, the records and the signing secret: every directory it makes is
 * 0700 and every file 0600 whatever the process's umask (issue 23.7). Run with umask 0, where a mode-less mkdir makes
 * 0777 and a mode-less file 0666.
 */

/** Every entry under `root` with its permission bits, as `path: mode` in octal. */
function modesUnder(root: string): { dirs: Record<string, string>; files: Record<string, string> } {
  const dirs: Record<string, string> = {};
  const files: Record<string, string> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const mode = (statSync(path).mode & 0o777).toString(8);
    (entry.isDirectory() ? dirs : files)[path.slice(root.length + 1)] = mode;
  }
  return { dirs, files };
}

describe("the embedded store's data dir with umask 0", () => {
  let previousUmask: number;
  let gw: TestGateway | undefined;
  beforeEach(() => {
    previousUmask = process.umask(0);
  });
  afterEach(async () => {
    await gw?.close();
    process.umask(previousUmask);
  });

  it("holds only 0700 directories and 0600 files after uploads, tokens, idempotent starts and webhook records", async () => {
    gw = await startGateway(
      // A webhook receiver that is not there: its events stay in the outbox, as records in the store.
      { WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true", UPLOAD_TOKEN_KEYS: `k1:${randomBytes(32).toString("base64url")}` },
      "local",
      { webhooks: [{ url: "http://127.0.0.1:9/hooks", secret: "s".repeat(32) }] },
    );
    const uploads = `/api/projects/${gw.projectId}/uploads`;
    const minted = await call(gw.app, "POST", `/api/projects/${gw.projectId}/upload-tokens`, {
      headers: gw.auth,
      body: { subject: "u1" },
    });
    expect(minted.status, JSON.stringify(minted.body)).toBe(200);
    const token = { authorization: `Bearer ${minted.body.result.token as string}` };

    const data = randomBytes(10_000);
    const started = await call(gw.app, "POST", `${uploads}/multipart`, {
      headers: { ...token, "idempotency-key": "modes-1" },
      body: { fileName: "a.mp4", mimeType: "video/mp4", contentLength: data.length, partsNumber: 1 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const { requestKey, presignedUrl } = started.body.result;
    const part = await fetch(presignedUrl[0].presignedUrl, { method: "PUT", body: data });
    expect(part.status).toBe(200);
    const completed = await call(gw.app, "PUT", `${uploads}/multipart-complete`, {
      headers: token,
      body: { requestKey, parts: [{ partNumber: 1, eTag: part.headers.get("etag") }] },
    });
    expect(completed.status, JSON.stringify(completed.body)).toBe(200);

    const single = await call(gw.app, "POST", `${uploads}/url`, {
      headers: gw.auth,
      body: { fileName: "b.mp4", mimeType: "video/mp4", contentLength: data.length },
    });
    expect(single.status, JSON.stringify(single.body)).toBe(200);
    const put = await fetch(single.body.result.url, { method: "PUT", body: data, headers: single.body.result.headers });
    expect(put.status).toBe(200);
    expect(
      (await call(gw.app, "POST", `${uploads}/success/${single.body.result.requestKey}`, { headers: gw.auth })).status,
    ).toBe(200);

    const store = gw.app.get<Storage>(STORAGE);
    await until(
      "webhook events in the outbox",
      async () => (await store.listKeys(dueKindPrefix(WEBHOOK_KIND), { limit: 1 })).keys.length > 0,
    );

    const { dirs, files } = modesUnder(gw.dir);
    // The test saw what it means to check: records, parts, objects, the secret.
    expect(Object.keys(files).length).toBeGreaterThan(8);
    expect(Object.keys(files).some((path) => path.includes("signing-secret"))).toBe(true);
    expect(Object.keys(dirs)).toEqual(expect.arrayContaining(["objects", "blobs"]));
    expect(Object.entries(dirs).filter(([, mode]) => mode !== "700")).toEqual([]);
    expect(Object.entries(files).filter(([, mode]) => mode !== "600")).toEqual([]);
    expect((statSync(gw.dir).mode & 0o777).toString(8)).toBe("700");
  });
});
