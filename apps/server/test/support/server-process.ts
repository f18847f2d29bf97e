import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const MAIN = join(__dirname, "..", "..", "dist", "main.js");

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** stdout and stderr, interleaved as they came. */
  output: () => string;
  /** stdout alone. */
  stdout: () => string;
  /** Stops the server: SIGKILL (a crash) or SIGTERM (a clean stop). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Servers started and not yet exited, so a test that timed out while one was starting cannot leave it running. */
const running = new Set<ChildProcess>();

/** SIGKILLs every server this process started that is still running (for `afterEach`). */
export async function killServerProcesses(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

/**
 * How long a server may take to start: seconds on a loaded 2-core machine (CI runs several suites at once; at a load
 * average of 20-25 one took more than 45 s). Only a failing start waits this long.
 */
const START_TIMEOUT_MS = 90_000;

/** Runs the built server (`dist/main.js`, as `pnpm start` does) and waits until it says that it is running. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the server first (turbo's test task does)`);
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let output = "";
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL"); // a server that never said it runs must not hold its port for the next test
      reject(new Error(`server did not start in ${START_TIMEOUT_MS / 1000} s:\n${output}`));
    }, START_TIMEOUT_MS);
    const check = () => {
      // The banner's line, or with NODE_ENV=production its JSON log line ("msg":"… running at http://…/").
      const match = /running at (\S+?)\/?(?:\n|")/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return {
    child,
    url,
    output: () => output,
    stdout: () => stdout,
    stop: (signal = "SIGTERM") =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill(signal);
      }),
  };
}

/** A free TCP port on loopback (for servers whose URLs must be known before they listen). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
