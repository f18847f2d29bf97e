#!/usr/bin/env bash
# A throwaway one-node Ceph cluster (1 mon, 1 memstore osd, radosgw) serving S3 on 127.0.0.1, for integration
# tests and benchmarks. Auth between daemons is off; S3 uses a fixed test user. Needs root (apt-get) when the
# Ceph packages are missing.
#
#   ceph-rgw.sh up        install if missing, start (or reuse the running one), create the bucket, print the env
#   ceph-rgw.sh down      stop the daemons started by `up` and wait for them to exit
#   ceph-rgw.sh env       print the env if our RGW is running and answering (exit 1 otherwise)
#   ceph-rgw.sh status    like env, plus daemon pids and cluster health on stderr
#   ceph-rgw.sh release ID [--keep]   (used by index.js) drop lease ID; stop the cluster when it was started by a
#                         lease holder and no live lease remains (--keep: never stop it, hand it over to manual use)
#
# stdout carries only the two `export ...` lines, so `eval "$(ceph-rgw.sh up)"` works; diagnostics go to stderr.
#
# Settings (environment):
#   RGW_DIR (/tmp/upload-gateway-rgw)  RGW_PORT (7480)  RGW_MON_PORT (6789)
#   RGW_MEM_BYTES (8 GiB memstore; RAM is used only as it fills)  RGW_MIN_PART (5 MiB, as on AWS)
#   RGW_ACCESS_KEY (rgw-test-access)  RGW_SECRET_KEY (rgw-test-secret)  S3_BUCKET (upload-gateway-test)
#   RGW_TCP_NODELAY (1: radosgw's sockets send at once; 0: Ceph's default, Nagle's algorithm on)
#   RGW_START_TIMEOUT (seconds per readiness wait, 60)  RGW_LOCK_TIMEOUT (seconds to wait for the lock, 1200)
#   RGW_LEASE (lease id, set by index.js)  RGW_UP_RESULT_FILE (`up` writes "started" or "reused" there)
set -euo pipefail

D=${RGW_DIR:-/tmp/upload-gateway-rgw}
D=${D%/}
PORT=${RGW_PORT:-7480}
MON_PORT=${RGW_MON_PORT:-6789}
MEM=${RGW_MEM_BYTES:-8589934592}
MINPART=${RGW_MIN_PART:-5242880}
ACCESS=${RGW_ACCESS_KEY:-rgw-test-access}
SECRET=${RGW_SECRET_KEY:-rgw-test-secret}
NODELAY=${RGW_TCP_NODELAY:-1}
BUCKET=${S3_BUCKET:-upload-gateway-test}
START_TIMEOUT=${RGW_START_TIMEOUT:-60}
LOCK_TIMEOUT=${RGW_LOCK_TIMEOUT:-1200}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOCK="$D.lock" # beside the directory, which `up` wipes
C=(-c "$D/ceph.conf")
DAEMONS=(mon.a osd.0 client.rgw)

log() { echo "ceph-rgw: $*" >&2; }
die() { log "error: $*"; exit 1; }

validate() {
  local v
  for v in "$PORT" "$MON_PORT" "$MEM" "$MINPART" "$START_TIMEOUT" "$LOCK_TIMEOUT"; do
    [[ $v =~ ^[0-9]+$ ]] || die "not a number: '$v'"
  done
  [[ $NODELAY == 0 || $NODELAY == 1 ]] || die "RGW_TCP_NODELAY must be 0 or 1, not '$NODELAY'"
  ((PORT != MON_PORT)) || die "RGW_PORT and RGW_MON_PORT must differ"
  [[ $ACCESS =~ ^[A-Za-z0-9._-]+$ && $SECRET =~ ^[A-Za-z0-9._/+=-]+$ ]] \
    || die "RGW_ACCESS_KEY/RGW_SECRET_KEY: use letters, digits and ._-/+= only"
  [[ $BUCKET =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "S3_BUCKET '$BUCKET' is not a valid bucket name"
}

lock() {
  mkdir -p "$(dirname "$D")"
  exec 9>"$LOCK"
  if ! flock -n 9; then
    log "waiting for another ceph-rgw.sh (lock $LOCK)"
    flock -w "$LOCK_TIMEOUT" 9 || die "could not take $LOCK within ${LOCK_TIMEOUT}s"
  fi
}

# Pid of daemon $1 if it is alive and is ours (its command line names our ceph.conf); fails otherwise.
daemon_pid() {
  local f="$D/run/$1.pid" pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$D/ceph.conf" || return 1
  echo "$pid"
}

# The gateway answers HTTP on the port (bash's /dev/tcp: no curl needed on a fresh machine).
http_up() {
  local status
  status=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && head -n 1 <&3' _ "$PORT" 2>/dev/null) || return 1
  [[ $status == HTTP/1.[01]\ * ]]
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

settings() { printf 'port=%s mon_port=%s mem=%s min_part=%s access=%s secret=%s tcp_nodelay=%s\n' \
  "$PORT" "$MON_PORT" "$MEM" "$MINPART" "$ACCESS" "$SECRET" "$NODELAY"; }

# Our cluster is healthy: all three daemons alive and the gateway answers HTTP. A gateway that is alive but slow
# to answer (busy with a benchmark) gets 30 s: wiping a cluster that tests are using is worse than waiting.
running() {
  local d t0=$SECONDS
  for d in "${DAEMONS[@]}"; do daemon_pid "$d" >/dev/null || return 1; done
  until http_up; do
    ((SECONDS - t0 < 30)) && daemon_pid client.rgw >/dev/null || return 1
    sleep 1
  done
}

print_env() {
  echo "export S3_ENDPOINT=http://127.0.0.1:$PORT S3_REGION=us-east-1 S3_FORCE_PATH_STYLE=true S3_BUCKET=$BUCKET"
  echo "export AWS_ACCESS_KEY_ID=$ACCESS AWS_SECRET_ACCESS_KEY=$SECRET"
}

# pids still alive among "$@"
alive() { local p; for p; do kill -0 "$p" 2>/dev/null && echo "$p"; done; }

# The data lives in memstore and `up` wipes the directory anyway: give the daemons 3 s to exit cleanly (radosgw
# and the mon take ~2 s; the osd waits 5 s for a mon that is going away too), then kill what is left.
stop_daemons() {
  local d pid pids=() i
  for d in client.rgw osd.0 mon.a; do
    if pid=$(daemon_pid "$d"); then kill "$pid" 2>/dev/null && pids+=("$pid") || true; fi
  done
  for ((i = 0; i < 30; i++)); do
    mapfile -t pids < <(alive "${pids[@]}")
    ((${#pids[@]} > 0)) || break
    sleep 0.1
  done
  if ((${#pids[@]} > 0)); then
    kill -9 "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      mapfile -t pids < <(alive "${pids[@]}")
      ((${#pids[@]} > 0)) || break
      sleep 0.1
    done
    ((${#pids[@]} == 0)) || log "warning: pids ${pids[*]} still alive after SIGKILL"
  fi
  rm -f "$D"/run/*.pid "$D/settings" "$D/owner"
  rm -rf "$D/leases"
}

log_tail() {
  local f
  for f in "$D"/log/*; do
    [[ -s $f ]] || continue
    echo "----- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
}

fail_start() {
  log "error: $*"
  log_tail
  stop_daemons
  log "start failed; daemons stopped, files left in $D"
  exit 1
}

# wait_for DESCRIPTION DAEMON COMMAND...: run COMMAND every 0.2 s until it succeeds, DAEMON dies, or timeout.
wait_for() {
  local what=$1 daemon=$2 t0=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1 9>&-; do
    # the pid file appears once the daemon has forked; give it a few seconds before calling it dead
    if ! daemon_pid "$daemon" >/dev/null && { [[ -s $D/run/$daemon.pid ]] || ((SECONDS - t0 > 10)); }; then
      fail_start "$daemon exited while waiting for $what"
    fi
    ((SECONDS - t0 < START_TIMEOUT)) || fail_start "$what: not ready after ${START_TIMEOUT}s"
    sleep 0.2
  done
}

# .ci/run installs the tests' Debian packages in the background under this lock (.ci/debian-packages.sh): look once
# it is done, not at a half-installed Ceph.
APT_LOCK=${TMPDIR:-/tmp}/upload-gateway-apt.lock
wait_for_preinstall() { flock -w "$LOCK_TIMEOUT" "$APT_LOCK" true 9>&- || die "$APT_LOCK held for ${LOCK_TIMEOUT}s"; }

install_packages() {
  wait_for_preinstall
  command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null && return
  ((EUID == 0)) || die "Ceph packages missing and not root: apt-get install ceph-mon ceph-osd radosgw"
  log "installing ceph-mon ceph-osd radosgw (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for apt's lock rather than fail: another test setup (Chromium for the browser tests) may be installing too.
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 9>&-
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq ceph-mon ceph-osd radosgw >&2 9>&-
}

write_conf() {
  local nodelay=""
  ((NODELAY == 0)) || nodelay=" tcp_nodelay=1"
  cat >"$D/ceph.conf" <<CONF
[global]
fsid = $1
# msgr v1 only, spelled out: Ceph takes a bare address with a port other than 6789 for msgr v2, which then
# fails (auth -13) against this v1 mon
mon host = [v1:127.0.0.1:$MON_PORT]
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
ms bind ipv6 = false
ms bind msgr2 = false
# fail within seconds, not the default 5 minutes, when a daemon or tool cannot reach the mon
client mount timeout = 30
mon data avail crit = 1
mon data avail warn = 2
# Every map change (each pool radosgw creates at first start) waits for the next paxos round, 1 s by default:
# 0.05 s brings a cold start from ~17 s down to ~3 s
paxos propose interval = 0.05
paxos min wait = 0.01
[mon.a]
mon data = $D/mon
mon addr = [v1:127.0.0.1:$MON_PORT]
[osd.0]
osd data = $D/osd
osd objectstore = memstore
memstore device bytes = $MEM
osd max object name len = 460
osd max object namespace len = 64
# At start the osd sends crush updates, and now and then sends the first one before it knows the cluster fsid: the
# mon rejects it ("wrong fsid") and the osd exits. The crush entry is added by this script, so skip them.
osd class update on start = false
osd crush update on start = false
[client.rgw]
# tcp_nodelay: with Nagle's algorithm on (Ceph's default), a reply written in two pieces (its head, then a body:
# GET, LIST, CreateMultipartUpload) waits for the client's delayed ACK, ~40 ms on Linux, where a PUT's takes ~5 ms.
# The tests, waiting on thousands of such replies, run on 1; the bench's start figures are measured on 0.
rgw frontends = beast endpoint=127.0.0.1:$PORT$nodelay
rgw multipart min part size = $MINPART
# Deleted and overwritten data is freed by garbage collection, by default only after 2 h. Free it within
# seconds, or repeated uploads fill the memstore and writes hang without an error.
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw gc processor max time = 5
CONF
}

# Daemons get their own stdio and no lock fd: an inherited pipe would keep a caller's $(...) or Node's
# execFile waiting forever, and an inherited fd 9 would hold the lock for the daemon's lifetime.
start_daemon() {
  local name=$1
  shift
  # the daemon forks once it has reached the mon; `timeout` bounds the wait before that
  timeout "$START_TIMEOUT" "$@" </dev/null >>"$D/log/$name.out" 2>&1 9>&- || fail_start "$name failed to start (exit $?)"
}

osd_up() { ceph "${C[@]}" --connect-timeout 5 osd dump 2>/dev/null | grep -q '^osd\.0 up'; }

# Runs in a subshell: fail_start's exit ends only this attempt.
start_cluster() {
  local t0=$SECONDS fsid osd_uuid i rc
  rm -rf "$D"
  mkdir -p "$D"/{mon,osd,run,log}
  : >"$D/.ceph-rgw"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"
  log "starting mon, osd (memstore $((MEM / 1048576)) MiB) and radosgw in $D"

  monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$fsid" "$D/monmap" >>"$D/log/cli.out" 2>&1 9>&- \
    || fail_start "monmaptool failed"
  ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" </dev/null >>"$D/log/mon.a.out" 2>&1 9>&- \
    || fail_start "ceph-mon --mkfs failed"
  start_daemon mon.a ceph-mon "${C[@]}" -i a
  wait_for "mon" mon.a ceph "${C[@]}" --connect-timeout 5 mon stat

  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  ceph "${C[@]}" --connect-timeout 10 osd new "$osd_uuid" 0 >>"$D/log/cli.out" 2>&1 9>&- || fail_start "ceph osd new failed"
  ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" </dev/null >>"$D/log/osd.0.out" 2>&1 9>&- \
    || fail_start "ceph-osd --mkfs failed"
  ceph "${C[@]}" --connect-timeout 10 osd crush add osd.0 1.0 host=localhost root=default >>"$D/log/cli.out" 2>&1 9>&- \
    || fail_start "ceph osd crush add failed"
  for ((i = 1; ; i++)); do # retried in case it still fails at init
    timeout "$START_TIMEOUT" ceph-osd "${C[@]}" -i 0 </dev/null >>"$D/log/osd.0.out" 2>&1 9>&- && break
    rc=$?
    ((i < 3)) || fail_start "osd.0 failed to start (exit $rc), $i attempts"
    log "osd.0 failed to start, retrying"
    sleep 1
  done
  wait_for "osd.0 up" osd.0 osd_up

  start_daemon client.rgw radosgw "${C[@]}" -n client.rgw
  wait_for "radosgw on 127.0.0.1:$PORT" client.rgw http_up

  for ((i = 0; ; i++)); do
    timeout 60 radosgw-admin "${C[@]}" user create --uid=test --display-name=test \
      --access-key="$ACCESS" --secret="$SECRET" >/dev/null 2>>"$D/log/radosgw-admin.out" 9>&- && break
    ((i < 10)) || fail_start "radosgw-admin user create failed"
    sleep 1
  done
  settings >"$D/settings"
  log "cluster up in $((SECONDS - t0))s"
}

create_bucket() {
  S3_ENDPOINT="http://127.0.0.1:$PORT" S3_REGION=us-east-1 S3_BUCKET="$BUCKET" \
    AWS_ACCESS_KEY_ID="$ACCESS" AWS_SECRET_ACCESS_KEY="$SECRET" \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true node "$HERE/create-bucket.js" >&2 9>&- || {
      log "error: creating bucket $BUCKET failed (did you run pnpm install?)"
      exit 1
    }
}

# A start fails rarely (seen once in ~200: radosgw never answered); one more attempt from scratch fixes that.
start_cluster_retrying() {
  port_busy "$PORT" && die "port $PORT is in use by something that is not this script's RGW (set RGW_PORT)"
  port_busy "$MON_PORT" && die "mon port $MON_PORT is in use (another Ceph cluster? set RGW_MON_PORT)"
  # RGW_DIR is wiped: refuse unless it is empty or was made by this script
  if [[ -d $D && ! -e $D/.ceph-rgw && ! (-f $D/ceph.conf && -d $D/mon) ]] && [[ -n $(ls -A "$D") ]]; then
    die "$D exists and was not created by this script: not wiping it (set RGW_DIR)"
  fi
  local attempt rc
  for attempt in 1 2; do
    # not `(start_cluster) || ...`: set -e does not apply inside a command whose status is tested
    set +e
    (set -e; start_cluster)
    rc=$?
    set -e
    ((rc != 0)) || return 0
    ((attempt == 2)) || log "retrying once from scratch"
  done
  die "could not start the cluster (logs above, files in $D)"
}

add_lease() {
  [[ -n ${RGW_LEASE:-} ]] || return 0
  [[ $RGW_LEASE =~ ^[0-9]+(\.[A-Za-z0-9]+)?$ ]] || die "RGW_LEASE must be <pid> or <pid>.<tag>"
  mkdir -p "$D/leases"
  : >"$D/leases/$RGW_LEASE"
}

have_pid_files() { compgen -G "$D/run/*.pid" >/dev/null; }

cmd_up() {
  validate
  command -v node >/dev/null || die "node not found (needed to create the bucket)"
  lock # before installing too: two concurrent first-time `up`s must not both run apt-get
  install_packages
  local result
  if running; then
    if [[ $(cat "$D/settings" 2>/dev/null) != "$(settings)" ]]; then
      die "an RGW from this script runs in $D with other settings ($(cat "$D/settings" 2>/dev/null)); run 'down' first"
    fi
    log "reusing the running RGW on 127.0.0.1:$PORT ($D)"
    result=reused
    # A manual `up` (no lease) adopts a cluster that tests started, so their teardown leaves it running.
    [[ -n ${RGW_LEASE:-} ]] || echo manual >"$D/owner"
  else
    if have_pid_files; then
      log "stale or partial cluster in $D: stopping what is left of it"
      stop_daemons
    fi
    start_cluster_retrying
    if [[ -n ${RGW_LEASE:-} ]]; then echo lease >"$D/owner"; else echo manual >"$D/owner"; fi
    result=started
  fi
  add_lease
  create_bucket
  [[ -z ${RGW_UP_RESULT_FILE:-} ]] || echo "$result" >"$RGW_UP_RESULT_FILE"
  print_env
}

cmd_down() {
  lock
  if ! have_pid_files; then log "nothing to stop in $D"; return; fi
  stop_daemons
  log "stopped"
}

lease_alive() { [[ -d /proc/${1%%.*} ]]; }

cmd_release() {
  local id=${1:-} keep=${2:-} f live=0
  [[ $id =~ ^[0-9]+(\.[A-Za-z0-9]+)?$ ]] || die "usage: $0 release <lease-id> [--keep]"
  lock
  rm -f "$D/leases/$id"
  if ! have_pid_files; then log "nothing running in $D"; return; fi
  if [[ $keep == --keep || -n ${RGW_KEEP:-} ]]; then
    echo manual >"$D/owner"
    log "RGW left running (RGW_KEEP)"
    return
  fi
  for f in "$D"/leases/*; do
    [[ -e $f ]] || continue
    if lease_alive "$(basename "$f")"; then live=$((live + 1)); else rm -f "$f"; fi
  done
  if [[ $(cat "$D/owner" 2>/dev/null) != lease ]]; then
    log "RGW was not started by a test run: left running"
  elif ((live > 0)); then
    log "RGW still used by $live other process(es): left running"
  else
    stop_daemons
    log "stopped"
  fi
}

cmd_env() {
  validate
  running || { log "no RGW from this script is running in $D on port $PORT"; return 1; }
  print_env
}

cmd_status() {
  local d pid
  for d in "${DAEMONS[@]}"; do
    if pid=$(daemon_pid "$d"); then log "$d: pid $pid"; else log "$d: not running"; fi
  done
  if daemon_pid mon.a >/dev/null; then
    timeout 15 ceph "${C[@]}" --connect-timeout 5 -s >&2 || true
    log "owner: $(cat "$D/owner" 2>/dev/null || echo '?'), leases: $(ls "$D/leases" 2>/dev/null | wc -l)"
  fi
  cmd_env
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
status) cmd_status ;;
release) shift; cmd_release "$@" ;;
*) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
