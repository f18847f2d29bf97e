import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, type ApiClient } from "../src/index";
import { runProcess } from "@upload-gateway/server/testing";
import { startGateway, type Gateway } from "./support/gateway";
import { CLI, downloaded, MiB, sha256, useTestFiles } from "./support/test-files";

// The upload-gateway CLI as users run it: --json, exit codes, --resume.
const files = useTestFiles();

describe("upload-gateway CLI", () => {
  let gateway: Gateway;
  let stateDir: string;
  beforeAll(async () => {
    gateway = await startGateway("local");
    stateDir = mkdtempSync(join(tmpdir(), "cli-state-"));
  });
  afterAll(async () => {
    await gateway?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  function cli(args: string[], env: Record<string, string> = {}) {
    return runProcess(process.execPath, [CLI, ...args], { env: { XDG_STATE_HOME: stateDir, ...env } });
  }
  const target = () => ["--server", gateway.url, "--project", gateway.projectId];

  /**
   * The request key of the upload the CLI is sending (looked for `keyTries` × 25 ms), once it has `parts` parts
   * stored (or 10 s have passed).
   */
  async function uploadWithStoredParts(api: ApiClient, parts: number, keyTries: number): Promise<string> {
    let requestKey: string | undefined;
    for (let i = 0; i < keyTries && !requestKey; i++) {
      await new Promise((r) => setTimeout(r, 25));
      requestKey = (await api.list(gateway.projectId, { limit: 1 })).uploads.find(
        (u) => u.state === "uploading",
      )?.requestKey;
    }
    expect(requestKey).toBeDefined();
    for (let i = 0; i < 400; i++) {
      if ((await api.get(gateway.projectId, requestKey!)).uploadedParts.length >= parts) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    return requestKey!;
  }

  it("uploads with --json: one JSON line whose requestKey downloads the identical file", async () => {
    const run = cli(["upload", files.bigPath, ...target(), "--json"], { UPLOAD_GATEWAY_KEY: gateway.apiKey });
    expect(await run.exit).toBe(0);
    const lines = run.out().trim().split("\n");
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!);
    expect(result).toMatchObject({ size: 64 * MiB, uploadId: expect.any(String), requestKey: expect.any(String) });
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(files.big));
  });

  it("exits 2 on usage errors and 3 on a refused key", async () => {
    const usage = cli(["upload", files.bigPath, "--server", "ftp://x", "--project", "x", "--key", "k"]);
    expect(await usage.exit).toBe(2);
    expect(usage.err()).toContain("--server must be an http(s) URL");
    const missing = cli(["upload", join(files.dir, "nope.bin"), ...target(), "--key", "k"]);
    expect(await missing.exit).toBe(2);
    const auth = cli(["upload", files.bigPath, ...target(), "--key", "wrong-key"]);
    expect(await auth.exit).toBe(3);
    expect(auth.err()).toContain("A valid API key is required");
  });

  it("prints how to continue an interrupted --resume run, without the key; that command continues it", async () => {
    const args = [
      "upload",
      files.bigPath,
      ...target(),
      "--key",
      gateway.apiKey,
      "--resume",
      "--part-size",
      "5MiB",
      "--concurrency",
      "1",
    ];
    const first = cli(args);
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    // Interrupt once the CLI is sending parts: its state is saved when the start's reply arrives, and the record is
    // listed a moment before that (a SIGINT in between leaves nothing to continue).
    const requestKey = await uploadWithStoredParts(api, 1, 400);
    first.child.kill("SIGINT");
    expect(await first.exit).toBe(130);
    expect(first.err()).not.toContain(gateway.apiKey);
    const printed = /run the same command again:\n {2}upload-gateway (.+?) --key "\$UPLOAD_GATEWAY_KEY"/.exec(
      first.err(),
    );
    expect(printed, first.err()).not.toBeNull();
    const again = printed![1]!.split(" ");
    expect(again).toEqual(args.filter((arg, i) => arg !== "--key" && args[i - 1] !== "--key"));
    const second = cli([...again, "--json"], { UPLOAD_GATEWAY_KEY: gateway.apiKey });
    expect(await second.exit).toBe(0);
    expect(JSON.parse(second.out()).requestKey).toBe(requestKey);
  });

  it("run as `pnpm -s cli … --json` from the repo, stdout is exactly one JSON line", async () => {
    const repo = join(__dirname, "..", "..", "..");
    const run = runProcess("pnpm", ["-s", "cli", "upload", files.bigPath, ...target(), "--json"], {
      cwd: repo,
      inheritEnv: true,
      env: { XDG_STATE_HOME: stateDir, UPLOAD_GATEWAY_KEY: gateway.apiKey },
    });
    expect(await run.exit, run.err()).toBe(0);
    const stdout = run.out();
    expect(stdout.endsWith("\n")).toBe(true);
    expect(stdout.trimEnd().split("\n")).toHaveLength(1);
    expect(JSON.parse(stdout)).toMatchObject({ size: 64 * MiB, requestKey: expect.any(String) });
  }, 240_000); // the script runs turbo first (a cache hit after `pnpm test`'s build, a full build otherwise)

  it("continues a killed upload with --resume, sending only the missing parts", async () => {
    const args = [
      "upload",
      files.bigPath,
      ...target(),
      "--key",
      gateway.apiKey,
      "--resume",
      "--part-size",
      "5MiB",
      "--concurrency",
      "1",
      "--json",
    ];
    const first = cli(args);
    // Kill it once a few parts are stored.
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    const requestKey = await uploadWithStoredParts(api, 3, 200);
    first.child.kill("SIGKILL");
    await first.exit;
    // A part whose bytes were all sent before the kill may still be landing: wait until no part is being written.
    const writing = () =>
      readdirSync(join(gateway.dir, "data", "multipart"), { recursive: true }).some((f) => String(f).includes(".tmp-"));
    for (let i = 0; i < 200 && writing(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(writing()).toBe(false);
    const stored = (await api.get(gateway.projectId, requestKey)).uploadedParts.length;
    expect(stored).toBeGreaterThanOrEqual(3);
    expect(stored).toBeLessThan(13);

    const second = cli(args);
    expect(await second.exit).toBe(0);
    const result = JSON.parse(second.out().trim());
    expect(result.requestKey).toBe(requestKey);
    expect(result.partsSent).toBe(13 - stored);
    expect(await downloaded(gateway, requestKey)).toBe(sha256(files.big));
  });
});
