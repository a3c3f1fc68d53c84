#!/usr/bin/env bash
# The test command: runs the whole suite on SQLite, PostgreSQL and MySQL/MariaDB.
#
# PostgreSQL and MariaDB are expected on 127.0.0.1 (the defaults below; override with
# CRM_TEST_POSTGRES_URL / CRM_TEST_MYSQL_URL). A server that is not running is started when this
# machine knows how; if one stays unreachable the run fails: a test must not pass without its
# database.
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

cargo test --workspace --locked "$@"
