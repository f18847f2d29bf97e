#!/usr/bin/env node
// Adds an API key to a projects file (creating the file, and the project, if needed) and prints the key on stdout,
// once: the file keeps only its SHA-256. For running the gateway by hand with STORAGE=s3 or on a non-loopback HOST.
//
//   node scripts/new-api-key.mjs [--project demo] [--file ./projects.json] [--name local]
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    project: { type: "string", default: "demo" },
    file: { type: "string", default: "./projects.json" },
    name: { type: "string", default: "local" },
  },
});
const path = resolve(process.env.INIT_CWD ?? process.cwd(), values.file);
const projects = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : { projects: [], apiKeys: [] };
if (!projects.projects.some((p) => p.id === values.project)) projects.projects.push({ id: values.project });
const key = `ugk_${randomBytes(24).toString("base64url")}`;
const sha256 = createHash("sha256").update(key).digest("hex");
let name = values.name;
for (let n = 2; projects.apiKeys.some((k) => k.name === name); n++) name = `${values.name}-${n}`;
projects.apiKeys.push({ name, sha256, projects: [values.project] });
// Write a sibling and rename it: a crash leaves the old file or the new one, never half of one.
writeFileSync(`${path}.tmp`, `${JSON.stringify(projects, null, 2)}\n`, { mode: 0o600 });
renameSync(`${path}.tmp`, path);
console.error(`new-api-key: key "${name}" for project "${values.project}" added to ${path}; the key (shown once):`);
console.log(key);
