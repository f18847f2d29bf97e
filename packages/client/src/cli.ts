#!/usr/bin/env node
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { defaultGatewayUrl, findDevSession } from "./dev-session";
import {
  ContentRejectedError,
  createApiClient,
  describeVerification,
  guessMimeType,
  UploadAbortedError,
  UploadFailedError,
  UploadGatewayError,
  uploadFile,
} from "./node";
import { formatBytes, ProgressBar } from "./cli-progress-bar";

const USAGE = `Usage: upload-gateway upload <file> [--server URL] [--project ID] [--key KEY] [options]

Uploads a file to Upload Gateway in parallel parts.

Options:
  --server URL         the gateway (default: $UPLOAD_GATEWAY_URL, else http://127.0.0.1:$PORT, PORT 3000 if unset)
  --project ID         the project to upload to (default: the dev project, when the key is the dev key)
  --key KEY            the API key (default: $UPLOAD_GATEWAY_KEY, else the dev key of a gateway in dev mode on
                       this machine, read from GET /api/dev-session as the demo page does)
  --concurrency N      parts sent at once (default 4)
  --part-size SIZE     bytes per part, e.g. 16MiB (default 16MiB; at least 5MiB)
  --mime-type TYPE     the file's MIME type (default: guessed from its extension)
  --meta KEY=VALUE     metadata kept with the upload (repeat for more keys)
  --resume             keep the upload's state, and continue it when the same command runs again
  --state-dir DIR      where --resume keeps its state (default: $XDG_STATE_HOME/upload-gateway)
  --json               print one JSON line with the result (requestKey, uploadId, size, verification, ...) and no
                       progress bar; a file the gateway's content check refused prints one JSON line too
                       ({"rejected": true, "reason": ..., "verification": ...})
  -h, --help           show this help
  -v, --version        show the version

Exit codes: 0 uploaded, 1 failed, 2 usage error, 3 not authorized (key or project), 4 refused by the gateway's
content check (the file is not what it claims, or not a type the project accepts), 130 interrupted.`;

const EXIT = { ok: 0, failed: 1, usage: 2, auth: 3, rejected: 4, interrupted: 130 } as const;

class UsageError extends Error {}

/** Set when a `--resume` run fails: the command that continues it, printed with the error. */
let continueHint: string | undefined;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      project: { type: "string" },
      key: { type: "string" },
      concurrency: { type: "string" },
      "part-size": { type: "string" },
      "mime-type": { type: "string" },
      meta: { type: "string", multiple: true },
      resume: { type: "boolean", default: false },
      "state-dir": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      version: { type: "boolean", short: "v", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (values.version) {
    console.log(VERSION);
    return EXIT.ok;
  }
  const [command, file, ...extra] = positionals;
  if (command !== "upload" || !file || extra.length > 0) throw new UsageError("expected: upload <file>");
  const server = values.server ?? defaultGatewayUrl(process.env);
  if (!/^https?:\/\/[^/]+/.test(server))
    throw new UsageError(`--server must be an http(s) URL, not ${JSON.stringify(server)}`);
  let apiKey = values.key ?? process.env.UPLOAD_GATEWAY_KEY;
  let project = values.project;
  if (!apiKey) {
    const dev = await findDevSession(server);
    if ("problem" in dev)
      throw new UsageError(`an API key is needed: --key KEY or UPLOAD_GATEWAY_KEY (${dev.problem})`);
    apiKey = dev.session.apiKey;
    project ??= dev.session.projectId;
  }
  const projectId = required(project, "--project");
  const concurrency = values.concurrency === undefined ? 4 : positiveInteger(values.concurrency, "--concurrency");
  const partSize = values["part-size"] === undefined ? undefined : parseSize(values["part-size"]);
  // Under `pnpm cli` the working directory is the repo root; INIT_CWD is where the command was typed.
  const path = resolve(process.env.INIT_CWD ?? process.cwd(), file);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`no such file: ${file}`);

  const state = values.resume
    ? new ResumeState(values["state-dir"] ?? defaultStateDir(), {
        path,
        size: info.size,
        mtimeMs: info.mtimeMs,
        server,
        projectId,
      })
    : undefined;
  let requestKey = await state?.load();
  const client = createApiClient({ baseUrl: server, apiKey });
  if (requestKey) {
    // The upload may have been finished or abandoned since: then start afresh.
    const details = await client.get(projectId, requestKey).catch((error: unknown) => {
      if (error instanceof UploadGatewayError && error.hasCode("UPLOAD_NOT_FOUND")) return undefined;
      throw error;
    });
    if (details?.state !== "uploading") {
      await state?.clear();
      requestKey = undefined;
    }
  }

  warnAboutPnpmEcho(argv, values.json);
  let saved: Promise<void> = Promise.resolve();
  const cancel = new AbortController();
  let interrupted = false;
  process.once("SIGINT", () => {
    interrupted = true;
    // With --resume, an interrupted upload stays on the server to be continued; otherwise it is cancelled.
    if (state) {
      bar?.finish();
      console.error(
        `Interrupted. The upload stays on the server; to continue it, run the same command again:\n${continueCommand(argv)}`,
      );
      // The upload's requestKey may still be on its way to the state file: exit once it is there.
      void saved.finally(() => process.exit(EXIT.interrupted));
      return;
    }
    cancel.abort();
  });

  const bar = !values.json && process.stderr.isTTY ? new ProgressBar() : undefined;
  const task = uploadFile(path, {
    client,
    projectId,
    concurrency,
    ...(partSize ? { partSize } : {}),
    mimeType: values["mime-type"] ?? guessMimeType(path),
    ...(values.meta ? { metadata: parseMetadata(values.meta) } : {}),
    ...(requestKey ? { requestKey } : {}),
    signal: cancel.signal,
    onStart: ({ requestKey: key }) => {
      saved = state?.save(key) ?? saved;
    },
    onProgress: (p) => bar?.update(p),
    onRetry: (notice) => bar?.retrying(notice),
  });
  try {
    const result = await task;
    bar?.finish();
    await state?.clear();
    if (values.json) {
      console.log(JSON.stringify({ ...result, size: result.size, server, projectId }));
    } else {
      console.error(`Uploaded ${file} (${formatBytes(result.size)}) — requestKey ${result.requestKey}`);
      if (result.verification) console.error(`verified: ${describeVerification(result.verification)}`);
    }
    return EXIT.ok;
  } catch (error) {
    bar?.finish();
    if (interrupted || error instanceof UploadAbortedError) {
      console.error("Cancelled; the upload was aborted on the server.");
      return EXIT.interrupted;
    }
    if (error instanceof ContentRejectedError) {
      // Over for good on the gateway (rejected, its file removed): nothing to continue.
      await state?.clear();
      const { requestKey: key, reason, verification } = error;
      if (values.json) {
        console.log(JSON.stringify({ rejected: true, requestKey: key, reason, verification, server, projectId }));
      }
      console.error(`upload-gateway: ${file} was refused by the gateway's content check: ${reason}`);
      if (key) console.error(`requestKey: ${key}`);
      return EXIT.rejected;
    }
    if (state) continueHint = continueCommand(argv);
    throw error;
  }
}

/** How this run was launched, for the commands it suggests. */
function launcher(): string {
  if (process.env.npm_lifecycle_event === "cli") return "pnpm -s cli"; // the repo's script
  if (process.env.npm_command === "exec") return "npx upload-gateway";
  return "upload-gateway";
}

/**
 * The command that continues an interrupted `--resume` run: the same arguments, without the key (it may be shell
 * history's or a log's). A key given with --key must be given again; UPLOAD_GATEWAY_KEY is read as before.
 */
function continueCommand(argv: readonly string[]): string {
  const args: string[] = [];
  let keyOnLine = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--key") {
      keyOnLine = true;
      i++;
    } else if (arg.startsWith("--key=")) keyOnLine = true;
    else args.push(arg);
  }
  const command = `  ${launcher()} ${args.map(shellQuote).join(" ")}`;
  return keyOnLine ? `${command} --key "$UPLOAD_GATEWAY_KEY"   (set UPLOAD_GATEWAY_KEY to your key first)` : command;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

/**
 * `pnpm cli` without `-s` prints the command line, key included, on stdout before the CLI runs: nothing here can take
 * that back, so say how to avoid it.
 */
function warnAboutPnpmEcho(argv: readonly string[], json: boolean): void {
  if (process.env.npm_lifecycle_event !== "cli" || process.env.npm_config_reporter === "silent") return;
  const key = argv.some((arg) => arg === "--key" || arg.startsWith("--key="));
  if (!key && !json) return;
  console.error(
    `upload-gateway: pnpm printed this command${key ? " with the API key" : ""} on stdout${json ? ", before the JSON line" : ""}; ` +
      "run `pnpm -s cli …` (and pass the key in UPLOAD_GATEWAY_KEY) to keep stdout to the CLI's own output.",
  );
}

/** Where --resume remembers which upload a file belongs to, keyed by the file, its size and mtime, server and project. */
class ResumeState {
  private readonly file: string;

  constructor(
    dir: string,
    private readonly identity: { path: string; size: number; mtimeMs: number; server: string; projectId: string },
  ) {
    const id = createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 32);
    this.file = join(dir, `${id}.json`);
  }

  async load(): Promise<string | undefined> {
    try {
      const saved = JSON.parse(await readFile(this.file, "utf8")) as { requestKey?: unknown };
      return typeof saved.requestKey === "string" ? saved.requestKey : undefined;
    } catch {
      return undefined;
    }
  }

  async save(requestKey: string): Promise<void> {
    await mkdir(join(this.file, ".."), { recursive: true });
    // Written aside, then renamed over: a CLI stopped mid-write (Ctrl-C as the start's reply arrives) must not leave
    // a truncated file that a later --resume reads as no state, starting the upload over.
    const written = `${this.file}.${process.pid}.tmp`;
    await writeFile(written, JSON.stringify({ requestKey, ...this.identity }));
    await rename(written, this.file);
  }

  async clear(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

/** `--meta KEY=VALUE` flags as a metadata map (the gateway checks the limits and names a bad key). */
function parseMetadata(flags: readonly string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const flag of flags) {
    const at = flag.indexOf("=");
    if (at <= 0) throw new UsageError(`--meta must be KEY=VALUE, not ${JSON.stringify(flag)}`);
    metadata[flag.slice(0, at)] = flag.slice(at + 1);
  }
  return metadata;
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`${flag} is required`);
  return value;
}

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`${flag} must be a whole number from 1 to 64`);
  return n;
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

export function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined)
    throw new UsageError(`--part-size must be a size such as 16MiB, not ${JSON.stringify(value)}`);
  const bytes = Math.round(Number(match[1]) * unit);
  if (bytes < 5 * 1024 ** 2) throw new UsageError("--part-size must be at least 5MiB");
  return bytes;
}

function defaultStateDir(): string {
  return join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "upload-gateway");
}

declare const __VERSION__: string;
const VERSION = typeof __VERSION__ === "string" ? __VERSION__ : "dev";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`upload-gateway: ${(error as Error).message}\n\n${USAGE}`);
      process.exit(EXIT.usage);
    }
    const cause = error instanceof UploadFailedError ? error.cause : error;
    const auth =
      cause instanceof UploadGatewayError &&
      (cause.hasCode("UNAUTHORIZED") || cause.hasCode("FORBIDDEN") || cause.hasCode("PROJECT_NOT_FOUND"));
    console.error(`upload-gateway: ${(error as Error).message}`);
    if (error instanceof UploadFailedError && error.requestKey) console.error(`requestKey: ${error.requestKey}`);
    if (continueHint && error instanceof UploadFailedError) {
      console.error(`Nothing stored is lost; to continue, run the same command again:\n${continueHint}`);
    }
    process.exit(auth ? EXIT.auth : EXIT.failed);
  },
);
