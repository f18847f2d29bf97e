#!/usr/bin/env node
// `tsc --noEmit` and `eslint .` of a package, in one process on one TypeScript program: the typed lint rules ask the
// checker what `tsc` has worked out already, instead of a second program building and checking the same files (on
// the server, 30 + 55 s of CPU as two commands). Exits 1 on any type error or lint error.
//
//   upload-gateway-check               the package in the current folder
//   upload-gateway-check --workspace   every package of the pnpm workspace whose `check` script this is, one by one
//
// `--workspace` is what `pnpm test` runs: one process for all packages costs two thirds of the CPU of a process each
// (70–77 s against 111 in a whole run): TypeScript, ESLint and their plugins are loaded and warmed up once, and the
// declaration files the packages share (node_modules: Node's and the DOM's types, zod, Nest, React) are parsed once.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { constants, setPriority } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { ESLint } from "eslint";
import ts from "typescript";

const CHECK_SCRIPT = "upload-gateway-check";

/**
 * Parsed declaration files from node_modules, kept for the next package's program. Keyed by what parsing depends on
 * (the target, and the module format NodeNext infers per file), so a file is shared only where it parses the same;
 * a package's own sources are never shared.
 * @type {Map<string, import("typescript").SourceFile>}
 */
const sharedSourceFiles = new Map();

/**
 * Type-checks and lints the package in `dir`; prints what is wrong, and returns whether anything is.
 * @param {string} dir
 */
async function checkPackage(dir) {
  const configPath = join(dir, "tsconfig.json");
  const host = {
    getCanonicalFileName: (name) => (ts.sys.useCaseSensitiveFileNames ? name : name.toLowerCase()),
    getCurrentDirectory: () => dir,
    getNewLine: () => ts.sys.newLine,
  };
  /** @param {readonly import("typescript").Diagnostic[]} diagnostics */
  const print = (diagnostics) => {
    if (diagnostics.length > 0) process.stdout.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  };
  let unrecoverable = false;
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    { noEmit: true },
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        print([diagnostic]);
        unrecoverable = true;
      },
    },
  );
  if (!parsed || unrecoverable) return true;
  const compilerHost = ts.createCompilerHost(parsed.options, true);
  const parse = compilerHost.getSourceFile.bind(compilerHost);
  compilerHost.getSourceFile = (fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile) => {
    if (!fileName.includes("/node_modules/")) {
      return parse(fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile);
    }
    const options =
      typeof languageVersionOrOptions === "object"
        ? languageVersionOrOptions
        : { languageVersion: languageVersionOrOptions };
    const key = `${options.languageVersion}|${options.impliedNodeFormat}|${options.jsDocParsingMode}|${fileName}`;
    let sourceFile = sharedSourceFiles.get(key);
    if (!sourceFile) {
      sourceFile = parse(fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile);
      if (sourceFile) sharedSourceFiles.set(key, sourceFile);
    }
    return sourceFile;
  };
  const program = ts.createProgram({
    rootNames: parsed.fileNames,
    options: parsed.options,
    host: compilerHost,
    projectReferences: parsed.projectReferences,
    configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(parsed),
  });
  const typeErrors = ts.getPreEmitDiagnostics(program);
  print(typeErrors);
  let lintErrors = 0;
  // A package without an ESLint config of its own (a compile check of types only) is type-checked only.
  if (readdirSync(dir).some((name) => /^eslint\.config\.[cm]?js$/.test(name))) {
    const eslint = new ESLint({
      cwd: dir,
      overrideConfig: { languageOptions: { parserOptions: { projectService: false, programs: [program] } } },
    });
    const results = await eslint.lintFiles(["."]);
    const report = await (await eslint.loadFormatter("stylish")).format(results);
    if (report) process.stdout.write(report);
    lintErrors = results.reduce((sum, result) => sum + result.errorCount + result.fatalErrorCount, 0);
  }
  return typeErrors.some((d) => d.category === ts.DiagnosticCategory.Error) || lintErrors > 0;
}

/** The folders of the workspace's packages whose `check` script is this one, from `pnpm-workspace.yaml`. */
function workspacePackages() {
  let root = process.cwd();
  while (!existsSync(join(root, "pnpm-workspace.yaml"))) {
    if (dirname(root) === root) throw new Error("upload-gateway-check --workspace: no pnpm-workspace.yaml above here");
    root = dirname(root);
  }
  const manifest = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const list = /^packages:\n((?:[ \t]+-[^\n]*\n)+)/m.exec(manifest)?.[1] ?? "";
  const globs = [...list.matchAll(/-\s*["']?([^"'\n]+?)["']?\s*$/gm)].map((m) => m[1]);
  return globs.flatMap((glob) => {
    // This workspace's globs name folders of packages (`apps/*`): another form is refused, not read as matching none.
    if (!/^[\w.-]+\/\*$/.test(glob)) throw new Error(`upload-gateway-check --workspace: unsupported glob ${glob}`);
    const parent = join(root, glob.slice(0, -2));
    return readdirSync(parent, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(parent, entry.name, "package.json")))
      .map((entry) => join(parent, entry.name))
      .filter((dir) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).scripts?.check === CHECK_SCRIPT)
      .sort();
  });
}

const workspace = process.argv.includes("--workspace");
// Below the suites' priority: `pnpm test` runs the workspace's check beside them, on a machine with too few cores for
// all of them, and nothing waits for it but the end of the run. At 5 rather than 10: one process uses one core at
// most, and at 10 it got little CPU until the suites ended, then ran alone for 40 s on one core of two. A package's
// own check (several may run at once) at 10.
setPriority(workspace ? 5 : constants.priority.PRIORITY_BELOW_NORMAL);
const dirs = workspace ? workspacePackages() : [resolve(process.cwd())];
const failed = [];
for (const dir of dirs) {
  if (workspace) process.stdout.write(`upload-gateway-check: ${relative(process.cwd(), dir) || "."}\n`);
  if (!existsSync(join(dir, "tsconfig.json"))) {
    console.error(`upload-gateway-check: no tsconfig.json in ${dir}`);
    process.exit(2);
  }
  if (await checkPackage(dir)) failed.push(relative(process.cwd(), dir) || ".");
}
if (workspace && failed.length > 0) console.error(`upload-gateway-check: errors in ${failed.join(", ")}`);
process.exitCode = failed.length > 0 ? 1 : 0;
