#!/usr/bin/env bash
# `pnpm cli …`: builds the client if needed, quietly (turbo's output appears only when the build fails, on stderr), then
# runs the CLI in place of this shell, so its stdout is the CLI's alone.
set -euo pipefail
# The CLI resolves file names against INIT_CWD (set by pnpm to where the command was typed).
export INIT_CWD="${INIT_CWD:-$PWD}"
cd "$(dirname "$0")/.."
# Inside a turbo task (TURBO_HASH is set, e.g. a test run by `pnpm test`), turbo has already built what the task
# depends on, and a nested `turbo run` would wait for the running one: skip the build there.
if [[ -z ${TURBO_HASH:-} ]]; then
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! pnpm -s turbo run build --filter=@upload-gateway/client... --output-logs=errors-only >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
  rm -f "$log"
  trap - EXIT
fi
exec node packages/client/dist/cli.js "$@"
