import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort, killServerProcesses, startServerProcess } from "./support/server-process";

// Each test starts the built server: seconds on a loaded 2-core machine.
// A test option, not vi.setConfig, which does not reach a file that shares its worker with others (isolate: false).
const slow = { timeout: 120_000 };

/**
 * The standalone server as an operator runs it (`NODE_ENV=production`, stdout read by a log shipper): every stdout
 * line is JSON, the banner included, and a stop by SIGTERM (a process manager) or SIGINT (Ctrl-C) says when it begins
 * and when it is done, and exits 0.
 */

const DEV_KEY = "dev_stop-signals-0123456789";
const dir = mkdtempSync(join(tmpdir(), "gateway-stop-signals-"));
afterEach(() => killServerProcesses());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(["SIGTERM", "SIGINT"] as const)("the production server stopped by %s", (signal) => {
  it("writes JSON lines only to stdout, logs the stop's beginning and end, and exits 0", slow, async () => {
    const server = await startServerProcess({
      NODE_ENV: "production",
      PORT: String(await freePort()),
      LOCAL_STORAGE_DIR: join(dir, signal),
      DEV_API_KEY: DEV_KEY,
    });
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
    await server.stop(signal);
    expect(server.child.signalCode).toBeNull();
    expect(server.child.exitCode).toBe(0);

    const lines = server
      .stdout()
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const messages = lines.map((line) => String(line.msg));
    const banner = lines.find((line) => String(line.msg).startsWith("Upload Gateway is running at "));
    expect(banner).toMatchObject({
      url: `${server.url}/`,
      docs: `${server.url}/docs`,
      uploadTokens: "on",
      devProject: "demo",
    });
    // Log lines are shipped and kept: the dev key stays on the terminal's banner.
    expect(server.stdout()).not.toContain(DEV_KEY);
    const stopping = messages.findIndex((m) => m.startsWith(`${signal} received: stopping`));
    const stopped = messages.indexOf("Upload Gateway stopped");
    expect(stopping).toBeGreaterThan(messages.indexOf(String(banner!.msg)));
    expect(stopped).toBeGreaterThan(stopping);
    expect(lines[stopped]).toMatchObject({ signal, level: 30 });
    expect(lines.slice(stopped + 1)).toEqual([]);
  });
});
