import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, runToEnd, startServerProcess, type ServerProcess } from "@upload-gateway/server/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApiClient } from "../src/index";

// Starts the built gateway twice: seconds each on a loaded 2-core machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

/**
 * The CLI in a newcomer's first hour: `pnpm start` in one terminal, then `upload-gateway upload file` in another, with
 * nothing but `PORT` (if the gateway is not on 3000): the CLI finds the gateway and its dev key as the demo page does.
 */

const CLI = join(__dirname, "..", "dist", "cli.js");
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

let dir: string;
let file: string;
let data: Buffer;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cli-defaults-"));
  data = randomBytes(6 * 1024 * 1024 + 123);
  file = join(dir, "clip.mp4");
  writeFileSync(file, data);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  return runToEnd(process.execPath, [CLI, ...args], { env: { XDG_STATE_HOME: join(dir, "state"), ...env } });
}

describe("upload-gateway CLI defaults", () => {
  let server: ServerProcess | undefined;
  afterAll(async () => server?.stop());

  it("follows PORT and uploads with a dev-mode gateway's dev key and project, found as the page does", async () => {
    const port = await freePort();
    server = await startServerProcess({
      PORT: String(port),
      LOCAL_STORAGE_DIR: join(dir, "dev"),
      LOCAL_STORAGE_FSYNC: "false",
    });
    const run = await cli(["upload", file, "--json"], { PORT: String(port) });
    expect(run.err).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.out) as { requestKey: string; projectId: string; server: string };
    expect(result).toMatchObject({ projectId: "demo", server: `http://127.0.0.1:${port}` });
    const devKey = /API key: +(\S+)/.exec(server.output())![1]!;
    const api = createApiClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: devKey });
    const download = await fetch((await api.downloadUrl("demo", result.requestKey)).downloadPath);
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(data));
    await server.stop();
    server = undefined;
  });

  it("without a key and no dev session says why (nothing answers, not dev mode), with the usage, exit 2", async () => {
    const port = await freePort();
    const down = await cli(["upload", file], { PORT: String(port) });
    expect(down.code).toBe(2);
    const why = `an API key is needed: --key KEY or UPLOAD_GATEWAY_KEY (nothing answers at http://127.0.0.1:${port}`;
    expect(down.err).toContain(why);

    const projects = join(dir, "projects.json");
    writeFileSync(projects, JSON.stringify({ projects: [{ id: "films" }], apiKeys: [] }));
    server = await startServerProcess({
      PORT: String(port),
      LOCAL_STORAGE_DIR: join(dir, "prod"),
      PROJECTS_FILE: projects,
    });
    const noDev = await cli(["upload", file], { UPLOAD_GATEWAY_URL: `http://127.0.0.1:${port}` });
    expect(noDev.code).toBe(2);
    expect(noDev.err).toContain("has no dev key to offer (GET /api/dev-session: HTTP 404)");
    expect(noDev.err).toContain("Usage: upload-gateway upload <file>");
    // A key without a project: the dev project is only a default for the dev key.
    const noProject = await cli(["upload", file, "--key", "k"], { UPLOAD_GATEWAY_URL: `http://127.0.0.1:${port}` });
    expect(noProject.code).toBe(2);
    expect(noProject.err).toContain("--project is required");
  });

  it("--help prints the usage, exit 0; bad arguments print a usage line, exit 2; never a stack trace", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: upload-gateway upload <file>/);
    expect(help.out).toContain("$UPLOAD_GATEWAY_URL, else http://127.0.0.1:$PORT");
    const bads = [["upload"], ["upload", file, "--nope"], ["upload", file, "--concurrency", "0", "--key", "k"]];
    bads.push(["send", file]);
    for (const args of bads) {
      const bad = await cli(args);
      expect(bad.code, args.join(" ")).toBe(2);
      expect(bad.err, args.join(" ")).toMatch(/^upload-gateway: .+\n\nUsage: upload-gateway upload/);
      expect(bad.err + bad.out, args.join(" ")).not.toMatch(/\n\s+at /);
    }
  });
});
