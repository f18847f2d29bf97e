#!/usr/bin/env bash
# The README's round trip, step by step, with curl: start a 3-part upload, PUT the parts to their presigned URLs,
# complete it, download the file and compare its SHA-256 with the original's. Run `pnpm start` first, then
# `pnpm try` (or `bash scripts/try-it.sh`) in another terminal. Needs bash, curl, head, split, sha256sum and node.
#
#   UPLOAD_GATEWAY_URL   the gateway (default http://127.0.0.1:$PORT; GATEWAY_URL is read too)
#   PORT                 the port `pnpm start` listens on, when not 3000
#   UPLOAD_GATEWAY_KEY   an API key; by default the dev key, read from GET /api/dev-session (dev mode on loopback)
#   PROJECT              the project (default: the dev project, else "demo")
#   SIZE                 bytes to upload (default 10486784: two 5 MiB parts and one of 1 KiB)
set -euo pipefail

# --help prints the comment above.
usage() { sed -n '2,/^[^#]/{/^#/{s/^# \{0,1\}//;p;};}' "$0"; }
case "${1:-}" in
  "") ;;
  -h | --help) usage; exit 0 ;;
  *) printf 'try-it: unexpected argument %q (it takes none; settings come from the environment)\nUsage: %s [--help]\n' \
    "$1" "$0" >&2; exit 2 ;;
esac

GATEWAY_URL=${UPLOAD_GATEWAY_URL:-${GATEWAY_URL:-http://127.0.0.1:${PORT:-3000}}}
GATEWAY_URL=${GATEWAY_URL%/}
SIZE=${SIZE:-10486784}
PARTS=3

work=$(mktemp -d "${TMPDIR:-/tmp}/try-it.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
# Prints a command the way a reader would type it (the key as "$KEY"), then runs it.
run() {
  local shown=() arg
  for arg; do
    if [[ -n ${KEY:-} && $arg == *"$KEY"* ]]; then shown+=("\"${arg//"$KEY"/\$KEY}\"")
    elif [[ $arg =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then shown+=("$arg")
    else shown+=("'${arg//\'/\'\\\'\'}'"); fi
  done
  printf '$ %s\n' "${shown[*]}"
  "$@"
}
fail() { printf '\ntry-it: %s\n' "$*" >&2; exit 1; }
# Reads a JSON document on stdin and prints the value of a JavaScript expression over it (`j`): jq may be missing.
json() { node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8")); const v = eval(process.argv[1]);
  process.stdout.write((typeof v === "string" ? v : JSON.stringify(v)) + "\n");' "$1"; }
# Fails with the envelope's errors unless the reply says success.
expect_success() { [[ $(json 'j.success' <"$1") == true ]] || fail "the gateway refused: $(json 'j.errors.join("; ")' <"$1")"; }

step "Is the gateway up? (GET $GATEWAY_URL/health/live)"
curl -sS -o /dev/null --max-time 5 "$GATEWAY_URL/health/live" 2>/dev/null ||
  fail "nothing answers at $GATEWAY_URL: start the gateway with \`pnpm start\` (or set PORT or UPLOAD_GATEWAY_URL)"
echo "yes"

KEY=${UPLOAD_GATEWAY_KEY:-}
if [[ -z $KEY ]]; then
  step "Read the dev project and key (GET /api/dev-session, answered only on loopback in dev mode)"
  status=$(curl -sS -o "session.json" -w '%{http_code}' "$GATEWAY_URL/api/dev-session")
  [[ $status == 200 ]] ||
    fail "no dev session here (HTTP $status): set UPLOAD_GATEWAY_KEY and PROJECT to a key and project of your PROJECTS_FILE"
  KEY=$(json 'j.result.apiKey' <"session.json")
  PROJECT=${PROJECT:-$(json 'j.result.projectId' <"session.json")}
  echo "project ${PROJECT}, key ${KEY:0:8}… (kept in \$KEY)"
fi
PROJECT=${PROJECT:-demo}
API="$GATEWAY_URL/api/projects/$PROJECT/uploads"

step "Make a $SIZE-byte test file"
echo "\$ head -c $SIZE /dev/urandom > movie.mp4"
head -c "$SIZE" /dev/urandom >"movie.mp4"
original=$(sha256sum "movie.mp4" | cut -d' ' -f1)
echo "sha256 $original"

step "Start a $PARTS-part upload (POST /multipart)"
body=$(printf '{"partsNumber": %d, "fileName": "movie.mp4", "contentLength": "%s", "mimeType": "video/mp4"}' "$PARTS" "$SIZE")
run curl -sS -X POST "$API/multipart" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d "$body" -o "start.json"
expect_success "start.json"
requestKey=$(json 'j.result.requestKey' <"start.json")
partSize=$(json 'j.result.partSize' <"start.json")
echo "requestKey $requestKey, parts of $partSize bytes"

step "Split the file into parts of partSize bytes"
run split -b "$partSize" -d -a 5 "movie.mp4" "part."
ls -l part.* | awk '{print $5, $NF}'

step "PUT each part to its presigned URL (no key needed: the URL is signed) and keep each reply's ETag"
parts=()
for n in $(seq 1 "$PARTS"); do
  url=$(json "j.result.presignedUrl.find((p) => p.partNumber === $n).presignedUrl" <"start.json")
  file=$(printf 'part.%05d' $((n - 1)))
  run curl -sS -f -T "$file" "$url" -D "headers.$n" -o /dev/null
  eTag=$(tr -d '\r' <"headers.$n" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p')
  [[ -n $eTag ]] || fail "part $n: the reply had no ETag header"
  echo "part $n: ETag $eTag"
  parts+=("{\"partNumber\": $n, \"eTag\": $(node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$eTag")}")
done

step "Complete the upload (PUT /multipart-complete with every part's number and ETag)"
body="{\"requestKey\": \"$requestKey\", \"parts\": [$(IFS=,; echo "${parts[*]}")]}"
run curl -sS -X PUT "$API/multipart-complete" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d "$body" -o "complete.json"
expect_success "complete.json"
echo "completed"

step "Ask for a download URL (POST /success/{requestKey}) and download the file"
run curl -sS -X POST "$API/success/$requestKey" -H "Authorization: Bearer $KEY" -o "success.json"
expect_success "success.json"
downloadPath=$(json 'j.result.downloadPath' <"success.json")
run curl -sS -f "$downloadPath" -o "downloaded.mp4"

step "Compare SHA-256"
downloaded=$(sha256sum "downloaded.mp4" | cut -d' ' -f1)
echo "sent       $original"
echo "downloaded $downloaded"
[[ $downloaded == "$original" ]] || fail "the downloaded file differs from the one sent"
printf '\nRound trip OK: the gateway stored and returned the identical %s bytes (requestKey %s).\n' "$SIZE" "$requestKey"
