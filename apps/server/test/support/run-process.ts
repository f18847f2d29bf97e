import { spawn, type ChildProcess } from "node:child_process";

export interface RunningProcess {
  child: ChildProcess;
  /** The exit code once the process has exited and its output is read whole (null when a signal ended it). */
  exit: Promise<number | null>;
  /** What it wrote to stdout so far (whole once `exit` has settled). */
  out(): string;
  /** What it wrote to stderr so far. */
  err(): string;
}

export interface RunOptions {
  /** Variables added to its environment. */
  env?: Record<string, string>;
  /**
   * Whether it gets this process's whole environment (as a command typed in a shell would) rather than `PATH` alone,
   * which keeps what it does independent of the machine's settings.
   */
  inheritEnv?: boolean;
  cwd?: string;
  /** `false` ignores its stdout (a long run whose output nobody reads). */
  stdout?: boolean;
}

/** Runs `command` with `args` for a test, collecting what it writes; no shell, no stdin. */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): RunningProcess {
  const base = options.inheritEnv ? process.env : { PATH: process.env.PATH ?? "" };
  const child = spawn(command, args, {
    env: { ...base, ...options.env },
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    stdio: ["ignore", options.stdout === false ? "ignore" : "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  return { child, exit, out: () => out, err: () => err };
}

/** Runs `command` to its end: its exit code and everything it wrote. */
export async function runToEnd(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const run = runProcess(command, args, options);
  const code = await run.exit;
  return { code, out: run.out(), err: run.err() };
}
