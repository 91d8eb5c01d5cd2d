#!/usr/bin/env bash
# The main job: set up, start caisd in the background (default root and socket), make a small
# busybox image offline, and run a container from it that prints a greeting.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cais=bin/cais
export CAIS_HOST=unix:///run/cais/cais.sock

if ! "$cais" version >/dev/null 2>&1; then
  echo "demo: starting caisd (logs in /var/log/caisd.log)"
  nohup bin/caisd >>/var/log/caisd.log 2>&1 </dev/null &
  for _ in $(seq 100); do "$cais" version >/dev/null 2>&1 && break; sleep 0.1; done
  "$cais" version >/dev/null || { echo "demo: caisd did not start; see /var/log/caisd.log" >&2; exit 1; }
fi

if ! "$cais" inspect --type image busybox:latest >/dev/null 2>&1; then
  tar=$(mktemp /tmp/cais-busybox-XXXXXX.tar)
  scripts/busybox-image.sh "$tar"
  echo "demo: importing busybox:latest from Debian's busybox-static"
  "$cais" import --change 'CMD ["sh"]' "$tar" busybox:latest
  rm -f "$tar"
fi

"$cais" run --rm busybox:latest echo "Hello from inside a cais container!"
