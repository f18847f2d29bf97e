// Start (or reuse) the throwaway Ceph RGW of ceph-rgw.sh from Node, and a vitest globalSetup built on it.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of ceph-rgw.sh. */
export const scriptPath = fileURLToPath(new URL("./ceph-rgw.sh", import.meta.url));

/** Names of the variables `up` prints and rgwGlobalSetup passes on. */
export const S3_ENV_KEYS = [
  "S3_ENDPOINT",
  "S3_REGION",
  "S3_FORCE_PATH_STYLE",
  "S3_BUCKET",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
];

// First-time `up` on a fresh machine runs apt-get: give it time.
const DEFAULT_TIMEOUT_MS = 20 * 60_000;

/** Parses `export A=1 B=2` lines into { A: "1", B: "2" }. */
export function parseExports(text) {
  /** @type {Record<string, string>} */
  const env = {};
  for (const line of text.split("\n")) {
    const m = /^\s*export\s+(.*)$/.exec(line);
    if (!m) continue;
    for (const pair of m[1].trim().split(/\s+/)) {
      const eq = pair.indexOf("=");
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

// The script's own error lines first (the log tails after them can be long), then the end of its stderr.
function failure(what, stderr) {
  const errors = stderr.split("\n").filter((l) => l.startsWith("ceph-rgw: error"));
  return new Error([what, ...errors, "--- end of stderr:", stderr.slice(-3000)].join("\n"));
}

function runScript(args, { env, timeoutMs, log }) {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [scriptPath, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c) => {
      stderr += c;
      log?.(c);
    });
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(failure(`ceph-rgw.sh ${args.join(" ")} timed out after ${timeoutMs} ms`, stderr));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(failure(`ceph-rgw.sh ${args.join(" ")} failed (${signal ?? `exit ${code}`})`, stderr));
    });
  });
}

const defaultLog = (chunk) => process.stderr.write(chunk);

/**
 * Runs `ceph-rgw.sh up` and returns the S3 env it printed.
 * @param {import("./index.js").StartRgwOptions} [options]
 */
export async function startRgw(options = {}) {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, log = defaultLog } = options;
  const lease = `${process.pid}.${randomBytes(4).toString("hex")}`;
  const resultDir = await mkdtemp(join(tmpdir(), "ceph-rgw-"));
  const resultFile = join(resultDir, "result");
  const env = { ...process.env, ...options.env, RGW_LEASE: lease, RGW_UP_RESULT_FILE: resultFile };
  let stdout;
  let result;
  try {
    ({ stdout } = await runScript(["up"], { env, timeoutMs, log }));
    result = (await readFile(resultFile, "utf8")).trim();
  } finally {
    await rm(resultDir, { recursive: true, force: true });
  }
  const s3Env = parseExports(stdout);
  if (!s3Env.S3_ENDPOINT) throw new Error(`ceph-rgw.sh up printed no S3_ENDPOINT:\n${stdout}`);

  let stopping;
  return {
    env: s3Env,
    startedHere: result === "started",
    lease,
    stop() {
      // current process.env, so an RGW_KEEP set after start is honoured
      const stopEnv = { ...process.env, ...options.env, RGW_LEASE: undefined, RGW_UP_RESULT_FILE: undefined };
      stopping ??= runScript(["release", lease], { env: stopEnv, timeoutMs: 120_000, log }).then(() => undefined);
      return stopping;
    },
  };
}

/**
 * vitest globalSetup: reuses S3_* / AWS_* from the environment when S3_ENDPOINT is set, else starts RGW.
 * Puts the env on process.env (inherited by vitest workers) and provides it as inject("s3Env").
 * @param {{ provide?: (key: string, value: unknown) => void }} [project]
 */
export async function rgwGlobalSetup(project) {
  /** @type {Record<string, string>} */
  let env = {};
  /** @type {Awaited<ReturnType<typeof startRgw>> | undefined} */
  let handle;
  /** @type {string[]} */
  const added = [];
  if (process.env.S3_ENDPOINT) {
    for (const key of S3_ENV_KEYS) if (process.env[key] !== undefined) env[key] = process.env[key];
  } else {
    handle = await startRgw();
    env = handle.env;
    for (const [key, value] of Object.entries(env)) {
      if (process.env[key] === undefined) added.push(key);
      process.env[key] = value;
    }
  }
  if (typeof project?.provide === "function") project.provide("s3Env", env);

  return async function teardown() {
    for (const key of added) delete process.env[key];
    // Releases this run's hold on the cluster. ceph-rgw.sh stops it only if a test run started it (not a manual
    // `up`), no other test process still holds it, and RGW_KEEP is unset.
    await handle?.stop();
  };
}
