import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort, killServerProcesses, startServerProcess } from "./support/server-process";

// One test starts the built server: seconds on a loaded 2-core machine.
// A test option, not vi.setConfig, which does not reach a file that shares its worker with others (isolate: false).
const slow = { timeout: 120_000 };

/** `pnpm keys new` (scripts/keys.mjs), as an operator runs it to give a project its first key. */

const SCRIPT = join(__dirname, "..", "..", "..", "scripts", "keys.mjs");
const dir = mkdtempSync(join(tmpdir(), "gateway-keys-"));
afterEach(() => killServerProcesses());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function keys(args: string[], cwd = dir): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCRIPT, ...args], {
      env: { PATH: process.env.PATH ?? "", INIT_CWD: cwd },
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout, err: failed.stderr };
  }
}

const sha256 = (key: string) => createHash("sha256").update(key).digest("hex");
const NO_STACK = /\n\s+at /;

describe("pnpm keys new", slow, () => {
  it("prints a key once, keeps only its digest in the file; a gateway started on the file accepts it", async () => {
    const made = await keys(["new", "--project", "films", "--name", "ci", "--file", "gateway/projects.json"]);
    // The folder does not exist yet: a clear error, no stack, nothing half-written.
    expect(made?.code).toBe(1);
    expect(made?.err).toMatch(/^keys: cannot write next to .*gateway\/projects\.json/);

    const run = await keys(["new", "--project", "films", "--name", "ci"]);
    expect(run.code).toBe(0);
    const key = run.out.trim();
    expect(run.out).toBe(`${key}\n`);
    expect(key).toMatch(/^ugk_[A-Za-z0-9_-]{32}$/);
    expect(run.err).toContain('key "ci" for project "films" added to');
    expect(run.err).not.toContain(key);
    const file = readFileSync(join(dir, "projects.json"), "utf8");
    expect(file).not.toContain(key);
    expect(JSON.parse(file)).toEqual({
      projects: [{ id: "films" }],
      apiKeys: [{ name: "ci", sha256: sha256(key), projects: ["films"] }],
    });

    const server = await startServerProcess({
      PORT: String(await freePort()),
      LOCAL_STORAGE_DIR: join(dir, "data"),
      PROJECTS_FILE: join(dir, "projects.json"),
    });
    const list = (auth: string) =>
      fetch(`${server.url}/api/projects/films/uploads`, { headers: { authorization: `Bearer ${auth}` } });
    expect((await list(key)).status).toBe(200);
    expect((await list(`${key}x`)).status).toBe(401);
    await server.stop();
  });

  it("several at once on one file: every key is kept (a lock, not a lost update)", async () => {
    const cwd = mkdtempSync(join(dir, "parallel-"));
    const runs = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => keys(["new", "--project", `p${n % 2}`, "--name", `k${n}`], cwd)),
    );
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
    const file = JSON.parse(readFileSync(join(cwd, "projects.json"), "utf8"));
    const digests = file.apiKeys.map((k: { sha256: string }) => k.sha256);
    expect(digests.sort()).toEqual(runs.map((r) => sha256(r.out.trim())).sort());
    expect(file.projects).toHaveLength(2);

    // The lock itself: while another writer holds it, nothing is written; once it is gone, the key is added.
    writeFileSync(join(cwd, "projects.json.lock"), "");
    const waiting = keys(["new", "--project", "p1", "--name", "late"], cwd);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(JSON.parse(readFileSync(join(cwd, "projects.json"), "utf8")).apiKeys).toHaveLength(5);
    rmSync(join(cwd, "projects.json.lock"));
    const late = await waiting;
    expect(late.code).toBe(0);
    expect(JSON.parse(readFileSync(join(cwd, "projects.json"), "utf8")).apiKeys).toHaveLength(6);
  });

  it("refuses a second key of the same name and a file it cannot understand, leaving the file as it was", async () => {
    const cwd = mkdtempSync(join(dir, "refusals-"));
    expect((await keys(["new", "--project", "films", "--name", "app"], cwd)).code).toBe(0);
    const before = readFileSync(join(cwd, "projects.json"), "utf8");
    const twice = await keys(["new", "--project", "films", "--name", "app"], cwd);
    expect(twice).toMatchObject({ code: 1, out: "" });
    expect(twice.err).toContain('already has a key named "app": choose another --name');
    expect(readFileSync(join(cwd, "projects.json"), "utf8")).toBe(before);

    for (const content of ["{ not json", '{"projects": {}}']) {
      writeFileSync(join(cwd, "broken.json"), content);
      const broken = await keys(["new", "--project", "films", "--name", "app", "--file", "broken.json"], cwd);
      expect(broken).toMatchObject({ code: 1, out: "" });
      expect(broken.err).not.toMatch(NO_STACK);
      expect(readFileSync(join(cwd, "broken.json"), "utf8")).toBe(content);
    }
  });

  it("--help prints the usage, exit 0; bad arguments print a usage line, exit 2; never a stack trace", async () => {
    const help = await keys(["--help"]);
    expect(help).toMatchObject({ code: 0, err: "" });
    expect(help.out).toMatch(/^Usage: pnpm -s keys new --project ID --name NAME/);
    const bad = [
      [],
      ["list"],
      ["new", "--name", "x"],
      ["new", "--project", "films"],
      ["new", "--project", "../etc", "--name", "x"],
      ["new", "--project", "films", "--name", "evil\u001b[2Jname"],
      ["new", "--project", "films", "--name", "x".repeat(100_000)],
      ["new", "--project", "films", "--name", "x", "--bogus"],
      ["new", "extra", "--project", "films", "--name", "x"],
    ];
    for (const args of bad) {
      const run = await keys(args, mkdtempSync(join(dir, "bad-")));
      expect(run.code, args.join(" ").slice(0, 80)).toBe(2);
      expect(run.err, args.join(" ").slice(0, 80)).toMatch(/^keys: .+\n\nUsage: pnpm -s keys new/);
      expect(run.err).not.toMatch(NO_STACK);
      expect(run.out).toBe("");
    }
  });
});
