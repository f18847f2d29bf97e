#!/usr/bin/env bash
# `pnpm pack:all [DIR]`: builds every published package of the workspace and packs each into DIR (default
# ./upload-gateway-packages, from where the command was typed) as `pnpm publish` would pack it (prepack, `files`,
# `publishConfig`, `workspace:` and `catalog:` ranges written out). Until the packages are on npm, install them from
# there into any project, together, in one command:
#
#   npm install DIR/*.tgz                    # all of them, or only the ones you need with what they depend on, e.g.
#   npm install DIR/upload-gateway-contract-*.tgz DIR/upload-gateway-client-*.tgz
set -euo pipefail

case "${1:-}" in
  -h | --help) sed -n '2,/^[^#]/{/^#/{s/^# \{0,1\}//;p;};}' "$0"; exit 0 ;;
  -*) printf 'pack-packages: unknown option %q\nUsage: %s [DIR]\n' "$1" "$0" >&2; exit 2 ;;
esac
[[ $# -le 1 ]] || { printf 'pack-packages: one folder at most\nUsage: %s [DIR]\n' "$0" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
# Under `pnpm pack:all` the working directory is the repo root; INIT_CWD is where the command was typed.
cd "${INIT_CWD:-$PWD}"
mkdir -p "${1:-upload-gateway-packages}"
out=$(cd "${1:-upload-gateway-packages}" && pwd)
cd "$root"

# The published packages: every workspace package under packages/ and apps/ that is not private.
mapfile -t dirs < <(node -e '
  const { readdirSync, existsSync, readFileSync } = require("node:fs");
  for (const group of ["packages", "apps"]) for (const name of readdirSync(group)) {
    const manifest = `${group}/${name}/package.json`;
    const published = existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).private !== true;
    if (published) console.log(`${group}/${name}`);
  }')

# The demo page too: packing the server copies its build into the package (apps/server/scripts/copy-web-app.mjs).
filters=(--filter=@upload-gateway/web)
for dir in "${dirs[@]}"; do filters+=("--filter=./$dir"); done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Inside a turbo task (TURBO_HASH is set: the packaging test under `pnpm test`), turbo has built them already, and a
# nested `turbo run` would wait for the running one.
if [[ -z ${TURBO_HASH:-} ]]; then
  echo "Building ${#dirs[@]} packages ..." >&2
  pnpm -s turbo run build "${filters[@]}" --output-logs=errors-only >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi

rm -f "$out"/upload-gateway-*.tgz
for dir in "${dirs[@]}"; do
  (cd "$dir" && pnpm pack --pack-destination "$out" >"$log" 2>&1) || { cat "$log" >&2; exit 1; }
done
ls -1 "$out"/*.tgz
printf '\nInstall them in your project (one command, so that they find each other):\n' >&2
printf '  npm install %s/*.tgz\n' "$out" >&2
