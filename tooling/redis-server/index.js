// A throwaway redis-server for tests: Debian's package, on a free loopback port, in a temp dir, persisting nothing.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The lock .ci/run's background install of the tests' Debian packages holds (.ci/debian-packages.sh): looking under
// it waits for that install, and keeps test files starting at once from running apt-get side by side.
const INSTALL_LOCK = join(tmpdir(), "upload-gateway-apt.lock");

/** Servers of this process still running: killed if the process exits without stopping them (a failed test run). */
const running = new Set();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function which(command) {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

let installing;

export function ensureRedisServerInstalled() {
  return (installing ??= install());
}

async function install() {
  // flock is util-linux's, on every Debian; elsewhere (no flock) there is no such install to wait for.
  if (which("flock")) spawnSync("flock", [INSTALL_LOCK, "true"], { stdio: "ignore" });
  const present = which("redis-server");
  if (present) return present;
  if (process.getuid?.() !== 0) {
    throw new Error("redis-server is missing and this is not root: apt-get install redis-server");
  }
  process.stderr.write("redis-server: installing with apt-get\n");
  const apt = "DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600";
  const script =
    `command -v redis-server >/dev/null || ` +
    `{ ${apt} update -qq && ${apt} install -y -qq --no-install-recommends redis-server; }`;
  await new Promise((resolve, reject) => {
    const child = spawn("flock", [INSTALL_LOCK, "sh", "-c", script], { stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`apt-get install redis-server failed (${code})`));
    });
  });
  const installed = which("redis-server");
  if (!installed) throw new Error("redis-server is still missing after apt-get install redis-server");
  return installed;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** @param {import("./index.js").RedisServerOptions} [options] */
export async function startRedisServer(options = {}) {
  const binary = await ensureRedisServerInstalled();
  const port = options.port ?? (await freePort());
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const dir = mkdtempSync(join(tmpdir(), "upload-gateway-redis-"));
  let child;

  const launch = () =>
    new Promise((resolve, reject) => {
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
      args.push("--dir", dir, "--daemonize", "no", "--logfile", "", "--protected-mode", "yes");
      const process_ = spawn(binary, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
      child = process_;
      running.add(process_);
      let output = "";
      const timer = setTimeout(() => {
        process_.kill("SIGKILL");
        reject(new Error(`redis-server did not start in ${startTimeoutMs} ms:\n${output}`));
      }, startTimeoutMs);
      const onData = (chunk) => {
        output += chunk;
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      process_.stdout.setEncoding("utf8").on("data", onData);
      process_.stderr.setEncoding("utf8").on("data", onData);
      process_.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      process_.once("exit", (code, signal) => {
        running.delete(process_);
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${signal ?? code}) before it was ready:\n${output}`));
      });
    });

  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const stop = (signal = "SIGTERM") =>
    new Promise((resolve) => {
      if (!isRunning()) return resolve();
      child.once("exit", () => resolve());
      if (signal === "SIGTERM") child.kill("SIGCONT"); // a paused server handles SIGTERM only once resumed
      child.kill(signal);
    });

  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return isRunning();
    },
    stop,
    async start() {
      if (isRunning()) throw new Error("redis-server is already running");
      await launch();
    },
    pause() {
      child.kill("SIGSTOP");
    },
    resume() {
      child.kill("SIGCONT");
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
