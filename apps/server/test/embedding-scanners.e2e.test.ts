import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigError, type ContentScanner, createUploadGateway, hashApiKey } from "../src/index";
import type { LocalStorage } from "../src/storage/local.storage";
import { STORAGE } from "../src/tokens";
import { objectKey } from "../src/uploads/upload-keys";
import { moduleApp } from "./support/gateway";
import { call, expectErrorEnvelope } from "./support/http";

/**
 * The module's `scanners` option (issue 20): an embedding app's scanner reads each stored upload through ranged reads
 * and its verdict decides; `verification` settings are validated as the bin's VERIFY_* variables.
 */

const PROJECT = "docs";
const apiKey = `key-${randomBytes(16).toString("hex")}`;
const auth = { authorization: `Bearer ${apiKey}` };
const uploads = `/api/projects/${PROJECT}/uploads`;

let dir: string;
let app: NestFastifyApplication;
const seen: { size: number; head: string }[] = [];

/** Refuses any file whose first bytes say "forbidden"; reads them through the target, as a scanner does. */
const classifier: ContentScanner = {
  name: "classifier",
  async scan(target) {
    const head = Buffer.from(await target.read(0, Math.min(target.size, 9))).toString("latin1");
    seen.push({ size: target.size, head });
    return head === "forbidden" ? { verdict: "rejected", message: "a forbidden document" } : { verdict: "clean" };
  },
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gateway-embed-scanners-"));
  app = await moduleApp({
    storage: { type: "local", dir, fsync: false },
    publicUrl: "http://127.0.0.1:1",
    auth: {
      projects: {
        projects: [{ id: PROJECT }],
        apiKeys: [{ name: "app", sha256: hashApiKey(apiKey), projects: [PROJECT] }],
      },
    },
    scanners: [classifier],
    verification: { waitSeconds: 5 },
  });
});
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A single-PUT upload of `text`, its bytes stored as its URL would store them; `success`'s reply. */
async function uploaded(text: string) {
  const bytes = Buffer.from(text);
  const started = await call(app, "POST", `${uploads}/url`, {
    headers: auth,
    body: { fileName: "note.txt", mimeType: "text/plain", contentLength: String(bytes.length) },
  });
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  const requestKey = started.body.result.requestKey as string;
  const store = app.get<LocalStorage>(STORAGE);
  await store.writeObject(objectKey(PROJECT, requestKey), Readable.from([bytes]), {
    expectedSize: bytes.length,
    contentType: "text/plain",
  });
  return call(app, "POST", `${uploads}/success/${requestKey}`, { headers: auth });
}

describe("UploadGatewayModule's scanners option", () => {
  it("a scanner's rejected verdict is 422 CONTENT_REJECTED (SCANNER_REJECTED); a clean one passes", async () => {
    const refused = await uploaded("forbidden words");
    expectErrorEnvelope(refused, 422, "CONTENT_REJECTED");
    expect(refused.body.errors[0]).toContain("SCANNER_REJECTED: classifier refused it: a forbidden document");
    const passed = await uploaded("fine words");
    expect(passed.status, JSON.stringify(passed.body)).toBe(200);
    expect(passed.body.result.verification).toEqual({ state: "passed", detectedMimeType: "text/plain" });
    expect(seen).toEqual([
      { size: 15, head: "forbidden" },
      { size: 10, head: "fine word" },
    ]);
  });

  it("bad scanners and verification settings are refused at start, naming the option", async () => {
    const problems = await createUploadGateway({
      storage: { type: "local", dir },
      publicUrl: "http://127.0.0.1:1",
      auth: { projects: { projects: [], apiKeys: [] } },
      scanners: [{ name: "broken" } as never],
      verification: { waitSeconds: 600, leaseSeconds: 0 },
    }).then(
      () => expect.unreachable("started with bad options"),
      (error: unknown) => (error as ConfigError).problems,
    );
    expect([...problems].sort()).toEqual([
      "scanners: must be a list of { name, scan(target) }",
      "verification.leaseSeconds: must be more than 0",
      "verification.waitSeconds: must be at most 60 (a request waits this long)",
    ]);
  });
});
