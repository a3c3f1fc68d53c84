#!/usr/bin/env bash
# Rebuilds assets/graphiql/ (the GraphiQL page's script, styles, workers and LICENSES.txt) from
# the exact package versions of graphiql/package-lock.json. The built files are committed, so
# building crm-comms needs no npm; run this after changing a version, then commit the result.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
node build.mjs
