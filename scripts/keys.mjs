#!/usr/bin/env node
// `pnpm keys new --project ID --name NAME`: creates an API key, adds its SHA-256 to a projects file (creating the file,
// and the project, if needed) and prints the key on stdout, once: the file keeps only the digest.
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const USAGE = `Usage: pnpm -s keys new --project ID --name NAME [--file PATH]

Creates an API key for a project of a projects file (PROJECTS_FILE), creating the file and the project if needed.
The key is printed once, on stdout; the file keeps only its SHA-256. A running gateway reads the file at start:
restart it to use the new key.

Options:
  --project ID    the project the key may use: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit
  --name NAME     the key's name, shown in logs (never the key): 1-64 letters, digits, '.', '_', '-', '@' or ':'
  --file PATH     the projects file (default: ./projects.json, from the directory the command was typed in)
  -h, --help      show this help

Exit codes: 0 key created, 1 the file could not be read or written, 2 usage error.`;

// The server's own rule for project ids (apps/server/src/auth/projects-file.ts, PROJECT_ID): a file this command
// writes must be one the gateway starts with.
const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEY_NAME = /^[A-Za-z0-9._@:-]{1,64}$/;
/** How long to wait for another `keys` command writing the same file. */
const LOCK_WAIT_MS = 10_000;

class UsageError extends Error {}
class FileError extends Error {}

function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        project: { type: "string" },
        name: { type: "string" },
        file: { type: "string", default: "./projects.json" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error.message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const [command, ...extra] = positionals;
  if (command === undefined) throw new UsageError("expected a command: new");
  if (command !== "new") throw new UsageError(`unknown command: ${command}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
  if (values.project === undefined) throw new UsageError("--project is required");
  if (!PROJECT_ID.test(values.project)) {
    throw new UsageError(`--project ${JSON.stringify(values.project)}: not a project id`);
  }
  if (values.name === undefined) throw new UsageError("--name is required");
  if (!KEY_NAME.test(values.name)) throw new UsageError(`--name ${JSON.stringify(values.name)}: not a key name`);

  // Under `pnpm keys` the working directory is the repo root; INIT_CWD is where the command was typed.
  const path = resolve(process.env.INIT_CWD ?? process.cwd(), values.file);
  const key = `ugk_${randomBytes(24).toString("base64url")}`;
  withLock(path, () => {
    const projects = readProjects(path);
    if (projects.apiKeys.some((k) => k.name === values.name)) {
      throw new FileError(`${path} already has a key named "${values.name}": choose another --name`);
    }
    if (!projects.projects.some((p) => p.id === values.project)) projects.projects.push({ id: values.project });
    const sha256 = createHash("sha256").update(key).digest("hex");
    projects.apiKeys.push({ name: values.name, sha256, projects: [values.project] });
    // Write a sibling and rename it: a crash leaves the old file or the new one, never half of one.
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(projects, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, path);
  });
  console.error(
    `keys: key "${values.name}" for project "${values.project}" added to ${path} (restart the gateway to use it).`,
  );
  console.error("keys: the key, shown this once (the file keeps only its SHA-256):");
  console.log(key);
}

/** The file's content, or an empty one if there is none; refuses (and leaves alone) a file it cannot understand. */
function readProjects(path) {
  if (!existsSync(path)) return { projects: [], apiKeys: [] };
  let json;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new FileError(`cannot read ${path}: ${error.message}`);
  }
  if (!Array.isArray(json?.projects) || !Array.isArray(json?.apiKeys)) {
    throw new FileError(
      `${path} is not a projects file (it needs "projects" and "apiKeys" lists); it was left as it is`,
    );
  }
  return json;
}

/** Runs `write` holding `<file>.lock`: two commands at once would each add their key to the same old content. */
function withLock(path, write) {
  const lock = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  let fd;
  for (;;) {
    try {
      fd = openSync(lock, "wx");
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw new FileError(`cannot write next to ${path}: ${error.message}`);
      if (Date.now() > deadline) {
        throw new FileError(`${lock} exists: another keys command is writing (remove it if none is)`);
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    write();
  } catch (error) {
    if (error instanceof FileError || error instanceof UsageError) throw error;
    throw new FileError(`cannot write ${path}: ${error.message}`);
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}

try {
  main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`keys: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof FileError) {
    console.error(`keys: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
