#!/usr/bin/env node
// The guard sweep: for every guard of guards.mjs, removes it (one mutation of one file), runs the test file named for
// it, expects that run to fail with failing tests (not a file that cannot load), and puts the file back. By hand, not
// in `pnpm test`: `pnpm guard-sweep [--only <text in a guard's name>]... [--list]`. Tests that need S3 start RGW as
// `pnpm test` does, or reuse the one S3_ENDPOINT names. Exits 1 when a guard's test passed without it, or when a
// mutation is stale (its search text is no longer in its file exactly once).
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { guards } from "./guards.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2);
// `--only <text>`, repeatable: the guards whose name contains any of them.
const only = args.flatMap((arg, i) => (args[i - 1] === "--only" ? [arg.toLowerCase()] : []));
const selected = guards.filter((g) => only.length === 0 || only.some((text) => g.guard.toLowerCase().includes(text)));

if (args.includes("--list")) {
  for (const g of selected) console.log(`${g.guard}\n  ${g.file}\n  ${g.test}${g.grep ? ` -t ${g.grep}` : ""}`);
  process.exit(0);
}

/** The package a test file belongs to: the nearest folder above it with a package.json. */
function packageOf(file) {
  let dir = dirname(join(root, file));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

/** Runs `pnpm exec vitest ...` in `cwd`; resolves with its exit code and output (colours off). */
function runTests(cwd, testArgs) {
  return new Promise((done) => {
    const child = spawn("pnpm", testArgs, {
      cwd,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    current = child;
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("close", (code) => {
      current = undefined;
      // eslint-disable-next-line no-control-regex
      done({ code, output: output.replace(/\u001b\[[0-9;]*m/g, "") });
    });
  });
}

/** The files being mutated, with their original text, and the test run: put back and stopped on any exit. */
const pending = new Map();
let current;
process.on("exit", () => {
  for (const [path, text] of pending) writeFileSync(path, text);
  current?.kill("SIGTERM");
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

const results = [];
for (const g of selected) {
  // A guard held in two places (a layer and its backstop) is removed from both: `also` lists the other mutations.
  const mutations = [{ file: g.file, search: g.search, replace: g.replace }, ...(g.also ?? [])];
  const stale = mutations.find((m) => readFileSync(join(root, m.file), "utf8").split(m.search).length !== 2);
  if (stale) {
    results.push({ ...g, verdict: "stale" });
    console.log(`✗ ${g.guard}: stale, its search is not in ${stale.file} exactly once`);
    continue;
  }
  const cwd = packageOf(g.test);
  const testArgs = ["exec", "vitest", "run", relative(cwd, join(root, g.test)), ...(g.grep ? ["-t", g.grep] : [])];
  for (const m of mutations) {
    const path = join(root, m.file);
    const text = pending.get(path) ?? readFileSync(path, "utf8");
    if (!pending.has(path)) pending.set(path, text);
    writeFileSync(
      path,
      readFileSync(path, "utf8").replace(m.search, () => m.replace),
    );
  }
  const started = Date.now();
  const { code, output } = await runTests(cwd, testArgs);
  for (const [path, text] of pending) writeFileSync(path, text);
  pending.clear();
  // A failing test, not a file that failed to load: the mutation must have left code that runs.
  const failed = [...output.matchAll(/^\s*FAIL\s+(.*)$/gm)].map((m) => m[1].trim());
  const verdict = code !== 0 && /Tests\s+\d+ failed/.test(output) ? "caught" : code === 0 ? "NOT CAUGHT" : "error";
  results.push({ ...g, verdict });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`${verdict === "caught" ? "✓" : "✗"} ${g.guard}: ${verdict} by ${g.test} (${seconds} s)`);
  if (verdict === "caught") for (const name of new Set(failed)) console.log(`    fails: ${name}`);
  if (verdict === "error") console.log(output.slice(-3000));
}

const bad = results.filter((r) => r.verdict !== "caught");
console.log(`\n${results.length - bad.length} of ${results.length} guards caught by their tests.`);
for (const r of bad) console.log(`  ${r.verdict}: ${r.guard} (${r.file}; ${r.test})`);
process.exit(bad.length > 0 ? 1 : 0);
