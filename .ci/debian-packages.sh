#!/usr/bin/env bash
# Installs the Debian packages the tests use and that are missing, with one `apt-get update`, as root. .ci/run starts
# it in the background before `pnpm install`, so the downloads overlap the install and the builds instead of running
# one after another inside the tests' set-ups. It holds the lock the tests' own installers wait for (ceph-rgw.sh,
# tooling/redis-server, apps/web's Chromium set-up, apps/server's debian-tool.ts): they look only once it is done,
# so they never see a half-installed package and install by themselves only what this could not.
# .ci/run passes the lock, already taken, as descriptor 8.
set -uo pipefail

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }
missing() { local p; for p; do installed "$p" || echo "$p"; done; }

# As each installer asks: Ceph and Chromium with their recommended packages, the rest without.
mapfile -t with_recommends < <(missing ceph-mon ceph-osd radosgw chromium)
mapfile -t without_recommends < <(missing redis-server ffmpeg clamav-daemon curl)
if ((${#with_recommends[@]} + ${#without_recommends[@]} == 0)); then
  echo "debian-packages: all installed"
  exit 0
fi
((EUID == 0)) || { echo "debian-packages: not root; the tests will say what to install"; exit 0; }
echo "debian-packages: installing ${with_recommends[*]} ${without_recommends[*]}"
export DEBIAN_FRONTEND=noninteractive
# The descriptor is closed for apt-get: a daemon a package's script starts must not keep the lock after we are done.
apt() { apt-get -o DPkg::Lock::Timeout=600 -qq "$@" 8>&-; }
apt update || exit 1
if ((${#with_recommends[@]})); then apt install -y "${with_recommends[@]}" || exit 1; fi
if ((${#without_recommends[@]})); then apt install -y --no-install-recommends "${without_recommends[@]}" || exit 1; fi
echo "debian-packages: done"
