#!/usr/bin/env bash
# Make sure the servers the tests use are up: PostgreSQL at 127.0.0.1:5432 (database `test`,
# trust auth) and MariaDB at 127.0.0.1:3306. Where one is installed but stopped, start it; in CI
# (CI=true, as root) install PostgreSQL from Debian's packages if it is missing. Elsewhere the
# tests skip what is not reachable and say so.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
as_root() { [ "$(id -u)" = 0 ]; }

if ! up 5432; then
  if [ "${CI:-}" = true ] && as_root && ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "== installing PostgreSQL (CI)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && as_root; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
      echo "== starting PostgreSQL $version" >&2
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do up 5432 && break; sleep 0.5; done
  fi
  if up 5432 && as_root && command -v psql >/dev/null 2>&1; then
    # trust auth for local TCP and a `test` database, as CI provides them
    su postgres -c "psql -tAc \"select 1 from pg_database where datname='test'\"" 2>/dev/null |
      grep -q 1 || su postgres -c "createdb test" 2>/dev/null || true
  fi
fi
if ! up 3306 && as_root && command -v mariadbd >/dev/null 2>&1; then
  echo "== starting MariaDB" >&2
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  for _ in $(seq 1 30); do up 3306 && break; sleep 0.5; done
fi
if ! command -v softhsm2-util >/dev/null 2>&1 && as_root; then
  echo "== installing SoftHSM2 (PKCS#11 token for tests/crypto)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null
fi
up 5432 && echo "== PostgreSQL reachable at 127.0.0.1:5432" >&2 ||
  echo "== PostgreSQL NOT reachable at 127.0.0.1:5432: its half of the tests will be skipped" >&2
exit 0
