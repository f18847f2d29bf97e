import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureDebianTool } from "./support/debian-tool";
import { freePort } from "./support/gateway";
import { runToEnd } from "./support/run-process";
import { killServerProcesses, startServerProcess, type ServerProcess } from "./support/server-process";

// Each test starts the built server once or twice: seconds each on a loaded 2-core machine.
// A test option, not vi.setConfig, which does not reach a file that shares its worker with others (isolate: false).
const slow = { timeout: 120_000 };

/**
 * scripts/try-it.sh, the README's walkthrough, run as a newcomer runs it: against the built server (`pnpm start`),
 * with nothing but the script's own defaults and the gateway's URL.
 */

const SCRIPT = join(__dirname, "..", "..", "..", "scripts", "try-it.sh");

let dir: string;
let server: ServerProcess | undefined;

beforeAll(() => {
  ensureCurl();
  dir = mkdtempSync(join(tmpdir(), "gateway-try-it-"));
});

/** The walkthrough is curl's: a fresh Debian machine may lack it. CI runs as root and installs it, as for Chromium. */
function ensureCurl(): void {
  ensureDebianTool(["curl", "--version"], "curl");
}
afterEach(async () => {
  await server?.stop();
  server = undefined;
  await killServerProcesses(); // one still starting when its test timed out
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tryIt(env: Record<string, string>, args: string[] = []) {
  return runToEnd("bash", [SCRIPT, ...args], { env });
}

describe("scripts/try-it.sh", slow, () => {
  it("does the whole round trip against a zero-config gateway: start, PUT the parts, complete, download, same SHA-256", async () => {
    const port = await freePort();
    server = await startServerProcess({ LOCAL_STORAGE_DIR: join(dir, "dev"), PORT: String(port) });
    const key = /API key: +(\S+)/.exec(server.output())![1]!;
    // Only PORT, as `PORT=… pnpm start` was typed in the other terminal.
    const run = await tryIt({ PORT: String(port) });
    expect(run.err).toBe("");
    expect(run.code).toBe(0);
    const sums = /sent +([0-9a-f]{64})\ndownloaded +([0-9a-f]{64})/.exec(run.out);
    expect(sums?.[1]).toBe(sums?.[2]);
    expect(run.out).toMatch(/Round trip OK: the gateway stored and returned the identical 10486784 bytes/);
    // Every step shows the command it ran, with the key as $KEY: a reader can repeat it, logs do not keep the key.
    for (const path of ["/multipart", "/multipart-complete", "/success/"])
      expect(run.out).toMatch(new RegExp(`\\$ curl .*${path}`));
    expect(run.out).toContain('-H "Authorization: Bearer $KEY"');
    expect(run.out).not.toContain(key);
    // The upload is really there, completed.
    const listed = await fetch(`http://127.0.0.1:${port}/api/projects/demo/uploads`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(((await listed.json()) as any).result.uploads[0]).toMatchObject({
      state: "completed",
      fileName: "movie.mp4",
    });
  });

  it("says what to do when no gateway answers, or when there is no dev key to read", async () => {
    const port = await freePort();
    const down = await tryIt({ UPLOAD_GATEWAY_URL: `http://127.0.0.1:${port}` });
    expect(down.code).toBe(1);
    expect(down.err).toContain(`nothing answers at http://127.0.0.1:${port}: start the gateway with \`pnpm start\``);

    const projects = join(dir, "projects.json");
    writeFileSync(projects, JSON.stringify({ projects: [{ id: "films" }], apiKeys: [] }));
    server = await startServerProcess({
      LOCAL_STORAGE_DIR: join(dir, "prod"),
      PORT: String(port),
      PROJECTS_FILE: projects,
    });
    const noKey = await tryIt({ GATEWAY_URL: `http://127.0.0.1:${port}` });
    expect(noKey.code).toBe(1);
    expect(noKey.err).toContain("no dev session here (HTTP 404): set UPLOAD_GATEWAY_KEY and PROJECT");
  });

  it("--help prints its settings and exits 0; an argument prints a usage line and exits 2", async () => {
    const help = await tryIt({}, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^The README's round trip/);
    expect(help.out).toMatch(/\n {2}PORT +the port `pnpm start` listens on/);
    expect(help.out).not.toContain("set -euo");
    const bad = await tryIt({}, ["--port", "4000"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^try-it: unexpected argument --port .*\nUsage: .*try-it\.sh \[--help\]\n$/);
    expect(bad.out).toBe("");
  });
});
