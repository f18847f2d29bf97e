// Every package of the workspace that is not private is published to npm: this checks each one as its users will
// meet it. A new published package is picked up by itself; it must also be a devDependency here, so that turbo builds
// it before this runs (and the demo page too: packing the server copies the page's build into it).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bin = join(here, "node_modules", ".bin");
// Asynchronous: a synchronous child blocks the worker so long that vitest's own calls time out.
const run = promisify(execFile);
const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));
const rootManifest = readJson(join(root, "package.json"));
const own = readJson(join(here, "package.json"));

const published = ["apps", "packages"]
  .flatMap((group) => readdirSync(join(root, group)).map((name) => join(group, name)))
  .filter((dir) => existsSync(join(root, dir, "package.json")))
  .map((dir) => ({ dir, manifest: readJson(join(root, dir, "package.json")) }))
  .filter(({ manifest }) => manifest.private !== true);

it("finds the published packages, each built before this check runs", () => {
  expect(published.map(({ manifest }) => manifest.name)).toContain("@upload-gateway/client");
  for (const { manifest } of published)
    expect(own.devDependencies, manifest.name).toHaveProperty([manifest.name], "workspace:*");
});

/** The published packages `name` needs installed with it: itself and those it depends on, directly or not. */
function ourPackagesNeededBy(name, needed = new Set()) {
  if (needed.has(name)) return needed;
  needed.add(name);
  const { manifest } = published.find((p) => p.manifest.name === name);
  for (const dependency of Object.keys(manifest.dependencies ?? {})) {
    if (published.some((p) => p.manifest.name === dependency)) ourPackagesNeededBy(dependency, needed);
  }
  return needed;
}

describe.each(published)("$manifest.name", ({ dir, manifest }) => {
  const path = join(root, dir);

  it("says what it is, where it comes from, its licence and the Node versions it runs on", () => {
    expect(manifest.description?.length).toBeGreaterThan(20);
    expect(manifest.license).toBe(rootManifest.license);
    expect(manifest.repository).toEqual({ ...rootManifest.repository, directory: dir });
    expect(manifest.homepage).toBe(`${rootManifest.homepage}/tree/main/${dir}#readme`);
    expect(manifest.bugs).toEqual(rootManifest.bugs);
    expect(manifest.keywords).toEqual(expect.arrayContaining(["upload-gateway"]));
    expect(manifest.engines?.node).toBe(rootManifest.engines.node);
    // Importing a package does nothing by itself; the only exception allowed is a file that must load a polyfill
    // (the server's entries load reflect-metadata, which Nest's decorators need), named so that bundlers keep it.
    if (Array.isArray(manifest.sideEffects)) {
      for (const file of manifest.sideEffects)
        expect(
          readFileSync(join(path, "src", file.replace(/^\.\/dist\//, "").replace(/\.js$/, ".ts")), "utf8"),
        ).toMatch(/^import "reflect-metadata";$/m);
    } else expect(manifest.sideEffects, "importing it must do nothing by itself").toBe(false);
    expect(manifest.exports?.["./package.json"]).toBe("./package.json");
  });

  it("ships a README that shows how to install and use it, and the LICENSE", () => {
    const readme = readFileSync(join(path, "README.md"), "utf8");
    expect(readme).toMatch(new RegExp(`^# ${manifest.name.replace("/", "\\/")}`, "m"));
    expect(readme).toContain(`npm install ${manifest.name}`);
    expect(readme).toMatch(/```(ts|tsx|js|sh)\n/);
    expect(readFileSync(join(path, "LICENSE"), "utf8")).toBe(readFileSync(join(root, "LICENSE"), "utf8"));
  });

  it("never puts an API key where a page could hold it: code reads a key only from process.env (a server's)", () => {
    const readme = readFileSync(join(path, "README.md"), "utf8");
    const code = [...readme.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1]).join("\n");
    expect(code.match(/.*\bapiKey\b(?!: process\.env\.).*/g) ?? []).toEqual([]);
  });

  it("says how to install it from packed tarballs (with every one of ours it needs) and lists its exact peers", () => {
    const readme = readFileSync(join(path, "README.md"), "utf8");
    expect(readme).toContain("pnpm pack:all ");
    const install = readme.split("\n").find((line) => line.startsWith("npm install ") && line.includes(".tgz"));
    expect(install, "an `npm install …/*.tgz` line").toBeDefined();
    // Each tarball named, as upload-gateway-client-*.tgz or in a brace list: upload-gateway-{contract,client}-*.tgz.
    const tarballs = [...install.matchAll(/upload-gateway-(?:\{([a-z,]+)\}|([a-z]+))-\*\.tgz/g)];
    const named = tarballs.flatMap((m) => (m[1] ?? m[2]).split(","));
    for (const name of ourPackagesNeededBy(manifest.name)) {
      expect(named, install).toContain(name.replace("@upload-gateway/", ""));
    }
    const peers = Object.entries(manifest.peerDependencies ?? {});
    const peerLine = /^Peer dependencies[^\n]*(?:\n[^\n]+)*/m.exec(readme)?.[0] ?? "";
    if (peers.length === 0) expect(peerLine).toMatch(/^Peer dependencies: none/);
    for (const [peer, range] of peers) {
      expect(peerLine.replace(/\s+/g, " "), peer).toContain(`\`${peer}\` \`${range}\``);
    }
    // npm installs no optional peer: the install lines name each one (the server's bin needs Fastify's platform).
    const optional = Object.entries(manifest.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional === true);
    const installs = readme
      .replace(/\\\n\s*/g, " ")
      .split("\n")
      .filter((line) => line.startsWith("npm install "));
    for (const [peer] of optional) {
      expect(
        peers.map(([name]) => name),
        `${peer} in peerDependencies`,
      ).toContain(peer);
      expect(
        installs.filter((line) => line.split(/\s+/).includes(peer)),
        `${peer} in every npm install line`,
      ).toEqual(installs);
    }
  });

  it("passes publint (strict) and Are the Types Wrong", async () => {
    expect((await run(join(bin, "publint"), ["--strict"], { cwd: path })).stdout).toContain("All good");
    // The tarball pnpm publishes (publishConfig applied), not npm's; the node16 profile, as the packages need Node >= 20
    // and node10-style resolution of subpaths does not apply.
    const destination = mkdtempSync(join(tmpdir(), "publish-check-"));
    try {
      await run("pnpm", ["pack", "--pack-destination", destination], { cwd: path });
      const [tarball] = readdirSync(destination).filter((name) => name.endsWith(".tgz"));
      // A package that offers no `require` condition is ESM-only by choice (as Uppy 5 itself is): CommonJS callers
      // importing it dynamically is then what is meant, not a problem.
      const esmOnly = manifest.type === "module" && !JSON.stringify(manifest.exports).includes('"require"');
      const ignore = esmOnly ? ["--ignore-rules", "cjs-resolves-to-esm"] : [];
      await run(join(bin, "attw"), [join(destination, tarball), "--profile", "node16", ...ignore], { cwd: path });
    } finally {
      rmSync(destination, { recursive: true, force: true });
    }
  });
});
