import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDebianTool } from "./debian-tool";
import { freePort } from "./server-process";

/** The EICAR anti-virus test file: harmless, and detected as a virus by every scanner that is working. */
export const EICAR = Buffer.from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
export const EICAR_SIGNATURE = "Gateway-Test-EICAR";

export interface Clamd {
  host: string;
  port: number;
  /** clamd's StreamMaxLength, as this test's clamd.conf sets it. */
  streamMaxBytes: number;
  stop(): Promise<void>;
}

const CLAMD = "/usr/sbin/clamd";

/**
 * Starts Debian's clamd (installing `clamav-daemon` when missing) on a free TCP port of 127.0.0.1, with its own
 * clamd.conf and a signature database this function writes: one hash signature (`.hdb`: MD5, size, name) of the
 * EICAR test file. Nothing is downloaded (freshclam is not used), so it starts in a second or two.
 */
export async function startClamd(options: { streamMaxBytes?: number } = {}): Promise<Clamd> {
  ensureDebianTool([CLAMD, "--version"], "clamav-daemon");
  const dir = mkdtempSync(join(tmpdir(), "clamd-"));
  mkdirSync(join(dir, "db"));
  mkdirSync(join(dir, "tmp"));
  const md5 = createHash("md5").update(EICAR).digest("hex");
  writeFileSync(join(dir, "db", "test.hdb"), `${md5}:${EICAR.length}:${EICAR_SIGNATURE}\n`);
  const port = await freePort();
  const streamMaxBytes = options.streamMaxBytes ?? 1024 * 1024;
  const config = [
    "Foreground yes",
    `TCPAddr 127.0.0.1`,
    `TCPSocket ${port}`,
    `DatabaseDirectory ${join(dir, "db")}`,
    `TemporaryDirectory ${join(dir, "tmp")}`,
    `LogFile ${join(dir, "clamd.log")}`,
    `PidFile ${join(dir, "clamd.pid")}`,
    `StreamMaxLength ${streamMaxBytes}`,
    "Bytecode no",
    "LogSyslog no",
  ];
  writeFileSync(join(dir, "clamd.conf"), `${config.join("\n")}\n`);
  const child = spawn(CLAMD, ["--config-file", join(dir, "clamd.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPong(port, child, 30_000);
  } catch (error) {
    const log = (() => {
      try {
        return readFileSync(join(dir, "clamd.log"), "utf8");
      } catch {
        return "";
      }
    })();
    await stop();
    throw new Error(`clamd did not start: ${(error as Error).message}\n${stderr}\n${log}`);
  }
  return { host: "127.0.0.1", port, streamMaxBytes, stop };
}

/** Waits until clamd answers PING with PONG. */
async function waitForPong(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`clamd exited with ${child.exitCode}`);
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no PONG within ${timeoutMs} ms`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let answer = "";
    socket.on("connect", () => socket.write("zPING\0"));
    socket.on("data", (data: Buffer) => (answer += data.toString()));
    socket.on("error", () => resolve(false));
    socket.on("close", () => resolve(answer.startsWith("PONG")));
    socket.setTimeout(1000, () => socket.destroy());
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}
