import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiClient, type ApiClient } from "@upload-gateway/client";
import { freePort, startServerProcess, type ServerProcess } from "@upload-gateway/server/testing";

export interface DemoGateway {
  server: ServerProcess;
  url: string;
  projectId: string;
  apiKey: string;
  /** The API as the tests check the gateway's side. */
  api: ApiClient;
  close(): Promise<void>;
}

export interface DemoProject {
  id: string;
  apiKey: string;
  allowedOrigins?: string[];
}

/**
 * The built server as `pnpm start` runs it, serving the built page: in dev mode (embedded storage in a temporary
 * folder, loopback, dev project `demo`), or with a projects file when `project` is given. Several projects (each with
 * its own key) when it is a list: the first is the gateway's `projectId` and `apiKey`.
 */
export async function startDemoGateway(
  project?: DemoProject | DemoProject[],
  /** More of the gateway's environment (e.g. CORS_ORIGINS). */
  extraEnv: Record<string, string> = {},
): Promise<DemoGateway> {
  const dir = mkdtempSync(join(tmpdir(), "web-e2e-gateway-"));
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    LOCAL_STORAGE_DIR: join(dir, "data"),
    LOG_LEVEL: "warn",
    ...extraEnv,
  };
  let projectId = "demo";
  let apiKey = `dev_${randomBytes(16).toString("hex")}`;
  if (project) {
    const projects = Array.isArray(project) ? project : [project];
    ({ id: projectId, apiKey } = projects[0]!);
    env.PROJECTS_FILE = join(dir, "projects.json");
    writeFileSync(
      env.PROJECTS_FILE,
      JSON.stringify({
        projects: projects.map(({ id, allowedOrigins }) => ({ id, allowedOrigins })),
        apiKeys: projects.map(({ id, apiKey }, i) => ({
          name: i === 0 ? "web" : `web-${id}`,
          sha256: createHash("sha256").update(apiKey).digest("hex"),
          projects: [id],
        })),
      }),
    );
  } else {
    env.DEV_API_KEY = apiKey;
  }
  const server = await startServerProcess(env);
  return {
    server,
    url: server.url,
    projectId,
    apiKey,
    api: createApiClient({ baseUrl: server.url, apiKey }),
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
