import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import { freePort, s3Env, testS3Storage } from "./support/gateway";
import { startRoundRobinProxy, type RoundRobinProxy } from "./support/round-robin-proxy";
import { startServerProcess, type ServerProcess } from "./support/server-process";
import { uploadRaces } from "./support/upload-races";

/**
 * Three gateway processes (the built server, as deployed) on one RGW bucket behind a round-robin proxy: whatever
 * replica a request lands on, it sees what the others did, and races between replicas have one winner.
 */

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

interface Replicas {
  proxy: RoundRobinProxy;
  projectId: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; replica: number }>;
  close(): Promise<void>;
}

async function startReplicas(): Promise<Replicas> {
  const dir = mkdtempSync(join(tmpdir(), "gateway-replicas-"));
  const projectId = `rep-${randomBytes(6).toString("hex")}`;
  const apiKey = `key-${randomBytes(16).toString("hex")}`;
  const projectsFile = join(dir, "projects.json");
  writeFileSync(
    projectsFile,
    JSON.stringify({
      projects: [{ id: projectId }],
      apiKeys: [{ name: "test", sha256: sha256Hex(apiKey), projects: [projectId] }],
    }),
  );
  // One after another: three processes starting at once on two busy cores can miss their start timeout.
  const servers: ServerProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const env = {
        ...s3Env(),
        STORAGE: "s3",
        PROJECTS_FILE: projectsFile,
        PORT: String(await freePort()),
        LOG_LEVEL: "warn",
        RATE_LIMIT_PER_MINUTE: "0",
        RATE_LIMIT_PER_IP_PER_MINUTE: "0",
      };
      servers.push(await startServerProcess(env));
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const proxy = await startRoundRobinProxy(servers.map((s) => s.url));
  return {
    proxy,
    projectId,
    async api(method, path, body) {
      const response = await fetch(`${proxy.url}/api/projects/${projectId}/uploads${path}`, {
        method,
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return {
        status: response.status,
        body: (await response.json()) as any,
        replica: Number(response.headers.get("x-replica")),
      };
    },
    async close() {
      await proxy.close();
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// One set of replicas for the whole file: starting three processes is the slow part.
let starting: Promise<Replicas> | undefined;
const shared = () => (starting ??= startReplicas());
afterAll(async () => {
  await (await starting)?.close();
});

describe("three gateway replicas on one bucket", () => {
  let replicas: Replicas;
  beforeAll(async () => {
    replicas = await shared();
  });

  it("starts on one, resumes on a second, completes on a third; the file is whole", async () => {
    const data = randomBytes(10 * MiB + 1024);
    const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
    const started = await replicas.api("POST", "/multipart", {
      partsNumber: 3,
      fileName: "replicated.mp4",
      contentLength: String(data.length),
      mimeType: "video/mp4",
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const { requestKey, presignedUrl } = started.body.result as {
      requestKey: string;
      presignedUrl: { presignedUrl: string }[];
    };
    const eTags: string[] = [];
    for (const i of [0, 1]) {
      const put = await fetch(presignedUrl[i]!.presignedUrl, { method: "PUT", body: parts[i] });
      expect(put.status).toBe(200);
      eTags[i] = put.headers.get("etag")!;
    }

    const resumed = await replicas.api("POST", "/multipart-resume", { requestKey });
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body.result.uploadedParts.map((p: { partNumber: number }) => p.partNumber)).toEqual([1, 2]);
    expect(resumed.body.result.presignedUrl.map((p: { partNumber: number }) => p.partNumber)).toEqual([3]);
    const last = await fetch(resumed.body.result.presignedUrl[0].presignedUrl, { method: "PUT", body: parts[2] });
    expect(last.status).toBe(200);
    eTags[2] = last.headers.get("etag")!;

    const completed = await replicas.api("PUT", "/multipart-complete", {
      requestKey,
      parts: eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })),
    });
    expect(completed.body).toMatchObject({ success: true, result: true });
    expect(new Set([started.replica, resumed.replica, completed.replica]).size).toBe(3);

    const state = await replicas.api("GET", `/${requestKey}`);
    expect(state.body.result).toMatchObject({ state: "completed", contentLength: String(data.length) });
    const link = await replicas.api("POST", `/success/${requestKey}`);
    const download = await fetch(link.body.result.downloadPath);
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(data));
    expect(new Set([state.replica, link.replica]).size).toBe(2);
  });
});

// The race suite, each request of a race going to the next replica.
uploadRaces("three replicas on s3", async () => {
  const replicas = await shared();
  const storage = testS3Storage();
  return {
    api: async (method, path, body) => {
      const { status, body: reply } = await replicas.api(method, path, body);
      return { status, body: reply };
    },
    storage,
    projectId: replicas.projectId,
    close: () => Promise.resolve(storage.destroy()), // the replicas are stopped after the whole file
  };
});
