#!/usr/bin/env node
// `tsc --noEmit` and `eslint .` of the package in the current folder, in one process on one TypeScript program: the
// typed lint rules ask the checker what `tsc` has worked out already, instead of a second program building and
// checking the same files (on the server, 30 + 55 s of CPU as two commands). Exits 1 on any type error or lint error.
import { constants, setPriority } from "node:os";
import { ESLint } from "eslint";
import ts from "typescript";

// Below the tests' priority: in `pnpm test` the checks run beside the suites on a machine that has too few cores for
// all of them, and nothing waits for a check but the end of the run, while the suites are its longest path. Niced,
// a check takes the CPU the suites leave (while they wait on timers, processes and the store) instead of slowing
// them down. Run alone, it runs as fast as before.
setPriority(constants.priority.PRIORITY_BELOW_NORMAL);

const cwd = process.cwd();
const configPath = ts.findConfigFile(cwd, ts.sys.fileExists, "tsconfig.json");
if (!configPath) {
  console.error(`check: no tsconfig.json in ${cwd}`);
  process.exit(2);
}
const host = {
  getCanonicalFileName: (name) => (ts.sys.useCaseSensitiveFileNames ? name : name.toLowerCase()),
  getCurrentDirectory: () => cwd,
  getNewLine: () => ts.sys.newLine,
};
/** @param {readonly import("typescript").Diagnostic[]} diagnostics */
const print = (diagnostics) => {
  if (diagnostics.length > 0) process.stdout.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
};
const parsed = ts.getParsedCommandLineOfConfigFile(
  configPath,
  { noEmit: true },
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      print([diagnostic]);
      process.exit(2);
    },
  },
);
const program = ts.createProgram({
  rootNames: parsed.fileNames,
  options: parsed.options,
  projectReferences: parsed.projectReferences,
  configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(parsed),
});
const typeErrors = ts.getPreEmitDiagnostics(program);
print(typeErrors);

const eslint = new ESLint({
  cwd,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, programs: [program] } } },
});
const results = await eslint.lintFiles(["."]);
const report = await (await eslint.loadFormatter("stylish")).format(results);
if (report) process.stdout.write(report);
const lintErrors = results.reduce((sum, result) => sum + result.errorCount + result.fatalErrorCount, 0);
const failed = typeErrors.some((d) => d.category === ts.DiagnosticCategory.Error) || lintErrors > 0;
process.exitCode = failed ? 1 : 0;
