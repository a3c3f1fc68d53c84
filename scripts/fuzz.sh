#!/usr/bin/env bash
# Fuzzes the running server with schemathesis (from PyPI): GraphQL operations generated from
# the schema (introspection) and REST requests generated from /api/openapi.json. Fails if any
# answer is a 5xx or if fewer than the expected number of requests were served.
#
#   bash scripts/fuzz.sh          # >= 1,000 GraphQL operations (100 examples per operation)
#   bash scripts/fuzz.sh 15       # the smaller run CI does
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-100}"
venv=target/fuzz-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi
# The server binary as the test build makes it (the integration tests use it too): after
# scripts/test.sh this builds nothing, where `cargo build` would compile every dependency again
# with the features of a build without dev-dependencies (2.5 minutes of CI).
cargo test --workspace --locked --no-run
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL="sqlite://$work/fuzz.db?mode=rwc" RUST_LOG=info \
  target/debug/crm-comms serve --bind "127.0.0.1:$port" 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

# Expected GraphQL errors (NOT_FOUND, BAD_USER_INPUT) make schemathesis report "GraphQL
# server error"; what must not happen is an HTTP 5xx, checked in the server's log below.
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/graphql" -n "$examples" --seed 1 \
  --checks not_a_server_error --no-color >"$work/graphql.txt" 2>&1 || true
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" -n "$examples" --seed 1 \
  --checks not_a_server_error --no-color >"$work/rest.txt" 2>&1 || true
grep -E "generated|Test cases" "$work/graphql.txt" "$work/rest.txt" || true

served=$(grep -c "finished processing request" "$work/server.log" || true)
errors=$(grep "finished processing request" "$work/server.log" | grep -cE "status=5[0-9][0-9]" || true)
echo "fuzz: $served requests served, $errors answered 5xx"
if [ "$errors" -ne 0 ]; then
  grep -E "status=5[0-9][0-9]|ERROR" "$work/server.log" | head -20
  exit 1
fi
minimum=$((examples * 9))
if [ "$served" -lt "$minimum" ]; then
  echo "error: expected at least $minimum requests; schemathesis output:" >&2
  tail -30 "$work/graphql.txt" "$work/rest.txt" >&2
  exit 1
fi
