import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startServerProcess, type ServerProcess } from "@upload-gateway/server/testing";
import { startFaultProxy, type Fault, type FaultProxy } from "./fault-proxy";

export type Backend = "local" | "s3";

export interface Gateway {
  server: ServerProcess;
  url: string;
  projectId: string;
  apiKey: string;
  dir: string;
  close(): Promise<void>;
}

/**
 * The built gateway, as users run it, on the embedded store or on the test S3 (Ceph RGW). `publicStore` is where
 * clients are told to send parts: a fault proxy in front of the store, when a test wants one.
 */
export async function startGateway(
  backend: Backend,
  options: { port?: number; publicStore?: (storeUrl: string) => Promise<string>; env?: Record<string, string> } = {},
): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), "client-test-"));
  const port = options.port ?? (await freePort());
  const projectId = `c-${randomBytes(5).toString("hex")}`;
  const apiKey = `key_${randomBytes(16).toString("hex")}`;
  const projectsFile = join(dir, "projects.json");
  writeFileSync(
    projectsFile,
    JSON.stringify({
      projects: [{ id: projectId }],
      apiKeys: [{ name: "test", sha256: createHash("sha256").update(apiKey).digest("hex"), projects: [projectId] }],
    }),
  );
  // No rate limits: the uploader tests send bursts of requests from one key on purpose (retries, resumes).
  const env: Record<string, string> = {
    PORT: String(port),
    PROJECTS_FILE: projectsFile,
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_MINUTE: "0",
    RATE_LIMIT_PER_IP_PER_MINUTE: "0",
  };
  if (backend === "local") {
    // No fsync per part: these tests are about the client, the store's durability is the server's tests' concern, and
    // an fsync on a disk the rest of the suite is writing to can hold a part for tens of seconds (a pause test failed so).
    Object.assign(env, { STORAGE: "local", LOCAL_STORAGE_DIR: join(dir, "data"), LOCAL_STORAGE_FSYNC: "false" });
    if (options.publicStore) env.PUBLIC_URL = await options.publicStore(`http://127.0.0.1:${port}`);
  } else {
    const s3 = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(S3_|AWS_)/.test(k))) as Record<
      string,
      string
    >;
    if (!s3.S3_ENDPOINT) throw new Error("No S3 for the tests: the RGW global setup did not run");
    Object.assign(env, s3, { STORAGE: "s3" });
    if (options.publicStore) env.S3_PUBLIC_ENDPOINT = await options.publicStore(s3.S3_ENDPOINT);
  }
  const server = await startServerProcess({ ...env, ...options.env });
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    projectId,
    apiKey,
    dir,
    async close() {
      await server.stop();
      // Not rmSync: a 4 GiB upload's file, on a disk busy writing it back, can take long to remove, and a worker
      // blocked that long misses vitest's calls.
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

/** A gateway whose clients send their parts through a fault proxy; `close()` stops both. */
export interface GatewayBehindFaults extends Gateway {
  proxy: FaultProxy;
}

/**
 * `startGateway` with a fault proxy in front of its store, deciding each part PUT's fault by `decide` (asked at each
 * attempt, so a test may change what it answers between uploads).
 */
export async function startGatewayBehindFaults(
  backend: Backend,
  decide: (partNumber: number, attempt: number) => Fault,
  options: { env?: Record<string, string> } = {},
): Promise<GatewayBehindFaults> {
  let proxy: FaultProxy | undefined;
  let gateway: Gateway;
  try {
    gateway = await startGateway(backend, {
      ...options,
      publicStore: async (storeUrl) => {
        proxy = await startFaultProxy(storeUrl, decide);
        return proxy.url;
      },
    });
  } catch (error) {
    await proxy?.close();
    throw error;
  }
  const started = proxy!;
  return {
    ...gateway,
    proxy: started,
    async close() {
      await gateway.close();
      await started.close();
    },
  };
}
