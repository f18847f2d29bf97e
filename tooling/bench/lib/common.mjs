// Small helpers shared by the benchmark's scripts: statistics, formatting, child processes, free ports.
import { spawn, spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { basename } from "node:path";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Node flags for every child. */
export const NODE_FLAGS = [];

/** The AWS SDK warns once per process about Node 20's support window: not what a benchmark reports. */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * The q-quantile (0..1) of already sorted numbers, nearest-rank.
 * @param {number[]} sorted
 * @param {number} q
 */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** The median (the mean of the middle two for an even count). @param {number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Rounds to `digits` significant-ish decimals for the JSON. @param {number} value @param {number} [digits] */
export function round(value, digits = 2) {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** @returns {Promise<number>} a TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Peak resident set (VmHWM) and current resident set (VmRSS) of a process, in bytes, from /proc.
 * @param {number | "self"} pid
 */
export function memoryOf(pid = "self") {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (/** @type {string} */ name) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { peakRss: kib("VmHWM") * 1024, rss: kib("VmRSS") * 1024 };
}

/** Child processes still running, for `killChildren`. @type {Set<import("node:child_process").ChildProcess>} */
const liveChildren = new Set();

/** @param {import("node:child_process").ChildProcess} child */
function track(child) {
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  return child;
}

/** Sends SIGTERM to every child process started here that is still running (on Ctrl-C). */
export function killChildren() {
  for (const child of liveChildren) child.kill("SIGTERM");
}

/**
 * Spawns a Node script and waits until its stdout contains `readyPattern`.
 * @param {string} script
 * @param {string[]} args
 * @param {{ env?: Record<string, string | undefined>, readyPattern: RegExp, timeoutMs?: number, name: string }} options
 */
export async function spawnNode(script, args, { env, readyPattern, timeoutMs = 30_000, name }) {
  const child = track(
    spawn(process.execPath, [...NODE_FLAGS, script, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (c) => (output += c));
  child.stderr.setEncoding("utf8").on("data", (c) => (output += c));
  const match = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const check = () => {
      const m = readyPattern.exec(output);
      if (m) {
        clearTimeout(timer);
        child.stdout.off("data", check);
        resolve(m);
      }
    };
    child.stdout.on("data", check);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${output}`));
    });
  });
  return {
    child,
    match: /** @type {RegExpExecArray} */ (match),
    output: () => output,
    /** Stops it with SIGTERM (SIGKILL after 10 s). @returns {Promise<void>} */
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
        child.once("exit", () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill("SIGTERM");
      });
    },
  };
}

/**
 * Runs a Node script to its end and parses the last line of its stdout as JSON.
 * @param {string} script
 * @param {string[]} args
 * @param {{ env?: Record<string, string | undefined>, timeoutMs?: number, name: string }} options
 */
export function runNodeJson(script, args, { env, timeoutMs = 15 * 60_000, name }) {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(process.execPath, [...NODE_FLAGS, script, ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0)
        return reject(
          new Error(`${name} failed (${signal ?? `exit ${code}`}):\n${stderr.slice(-4000)}${stdout.slice(-2000)}`),
        );
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${name} printed no JSON result:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }
    });
  });
}

/** "1,234" @param {number} n @param {number} [digits] */
export function fmt(n, digits = 0) {
  if (n === undefined || n === null || !Number.isFinite(n)) return "n/a";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Bytes as "12.3 MiB". @param {number} bytes */
export function fmtBytes(bytes) {
  if (!Number.isFinite(bytes)) return "n/a";
  if (bytes >= GiB) return `${fmt(bytes / GiB, 2)} GiB`;
  if (bytes >= MiB) return `${fmt(bytes / MiB, 1)} MiB`;
  if (bytes >= 1024) return `${fmt(bytes / 1024, 1)} KiB`;
  return `${fmt(bytes)} B`;
}

/**
 * A plain-text table (also valid Markdown).
 * @param {string[]} header
 * @param {(string | number)[][]} rows
 */
export function table(header, rows) {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (/** @type {string[]} */ r) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `-${"-".repeat(w)}:`)).join("|")}|`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join("\n");
}

let clockTicks = 0;
/** Kernel clock ticks per second (USER_HZ), for /proc CPU times. */
function ticksPerSecond() {
  if (!clockTicks) {
    const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    clockTicks = Number(out.stdout?.trim()) || 100;
  }
  return clockTicks;
}

/** CPU time (user + system) a process has used so far, in ms. @param {number} pid */
export function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from the 3rd (state) on
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond(); // utime, stime
}

/** Whole-machine CPU counters, in ms summed over all cores: { busy, total }. */
export function machineCpuMs() {
  const [, ...values] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  const v = values.map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  const idle = v[3] + v[4];
  return { busy: ((total - idle) * 1000) / ticksPerSecond(), total: (total * 1000) / ticksPerSecond() };
}

/**
 * Every process on the machine, as /proc shows it: its pid, its parent's, its command name (`comm`) and its arguments.
 * Processes gone while the list was read are left out.
 * @returns {{ pid: number, parent: number, name: string, args: string[] }[]}
 */
export function processes() {
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]); // the 4th field, after the state
      found.push({ pid: Number(entry), parent, name, args });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * The processes of the Ceph cluster that serves the benchmark (radosgw, ceph-osd, ceph-mon started with
 * `$RGW_DIR/ceph.conf`, as tooling/ceph-rgw does), to tell the store's CPU from other work on the machine.
 */
export function storePids() {
  const conf = `${process.env.RGW_DIR ?? "/tmp/upload-gateway-rgw"}/ceph.conf`;
  return processes()
    .filter(({ args }) => /^(radosgw|ceph-osd|ceph-mon)$/.test(basename(args[0] ?? "")) && args.includes(conf))
    .map(({ pid }) => pid);
}

/** Summed CPU ms of processes that may have exited (counted as 0). @param {number[]} pids */
export function cpuMsOf(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      total += processCpuMs(pid);
    } catch {
      // exited
    }
  }
  return total;
}

/**
 * Measures CPU over a stretch of time: this process, the given processes, the store's, the machine's. `stop()`
 * returns ms of each, and the "other" work on the machine (busy time none of these, nor `knownMs` more, explain) in
 * cores.
 * @param {number[]} pids
 */
export function cpuMeter(pids) {
  const store = storePids();
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const pids0 = cpuMsOf(pids);
  const store0 = cpuMsOf(store);
  const machine0 = machineCpuMs();
  return {
    stop(knownMs = 0) {
      const wallMs = performance.now() - t0;
      const selfUsage = process.cpuUsage(self0);
      const selfMs = (selfUsage.user + selfUsage.system) / 1000;
      const pidsMs = cpuMsOf(pids) - pids0;
      const storeMs = cpuMsOf(store) - store0;
      const machine1 = machineCpuMs();
      const busyMs = machine1.busy - machine0.busy;
      return {
        wallMs,
        selfMs,
        pidsMs,
        storeMs,
        storeFound: store.length > 0,
        busyPercent: (100 * busyMs) / (machine1.total - machine0.total),
        otherCores: Math.max(0, busyMs - selfMs - pidsMs - storeMs - knownMs) / wallMs,
      };
    },
  };
}

/** Writes `bytes` random bytes to `path`. @param {string} path @param {number} bytes */
export function randomFile(path, bytes) {
  const chunk = Buffer.allocUnsafe(16 * MiB);
  const fd = openSync(path, "w");
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
    }
  } finally {
    closeSync(fd);
  }
}
