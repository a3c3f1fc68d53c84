#!/usr/bin/env bash
# The test command: runs the whole suite on SQLite, PostgreSQL and MySQL/MariaDB.
#
# PostgreSQL and MariaDB are expected on 127.0.0.1 (the defaults below; override with
# CRM_TEST_POSTGRES_URL / CRM_TEST_MYSQL_URL). A server that is not running is started when this
# machine knows how; if one stays unreachable the run fails: a test must not pass without its
# database.
#
# Arguments go to `cargo test`: the integration tests are one binary, `api` (tests/api/), with
# tests named `<module>::…`, e.g. `bash scripts/test.sh --test api durability::` or
# `bash scripts/test.sh --test api rest::postgres::`. TEST_LOG=1 shows the servers' logs.
#
# The Node-based client tests (tests/node/, e.g. GraphiQL in a real browser) need their npm
# packages and Debian's Chromium: both are installed here when missing (`npm ci` again when
# tests/node/package-lock.json changed), and the run fails if an install fails.
set -euo pipefail
cd "$(dirname "$0")/.."

export CRM_TEST_POSTGRES_URL="${CRM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export CRM_TEST_MYSQL_URL="${CRM_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}"
export CRM_TEST_REQUIRE_ALL=1

wait_for() { # name, probe command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "error: $name is unreachable; its tests cannot run" >&2
  return 1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
maria_up() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping; }

if ! pg_up 2>/dev/null; then
  echo "starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
wait_for PostgreSQL pg_up

if ! maria_up 2>/dev/null; then
  echo "starting MariaDB"
  if [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
fi
wait_for MariaDB maria_up

# Node packages of tests/node/: installed when missing or older than package-lock.json (npm ci
# writes node_modules/.package-lock.json). No tool may download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if ! command -v npm >/dev/null; then
  echo "error: npm is missing; the Node-based tests (tests/node/) cannot run" >&2
  exit 1
fi
if [ ! -f tests/node/node_modules/.package-lock.json ] ||
  [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; then
  echo "installing tests/node's npm packages"
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null
fi
# Debian's Chromium for the browser tests.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium"
  apt_log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
    >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    echo "error: installing chromium failed; the browser tests cannot run" >&2
    exit 1
  fi
  rm -f "$apt_log"
fi

cargo test --workspace --locked "$@"
