#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the test suite, on 127.0.0.1 only, in a temporary
# directory, and prints the CRYPTORG_TEST_PG URL for it. Nothing else on the machine is touched:
# not Debian's own cluster, not its port.
#
#   eval "$(scripts/test-postgres.sh start)"   # sets CRYPTORG_TEST_PG and CRYPTORG_TEST_PGDATA
#   npm test                                   # both backends
#   scripts/test-postgres.sh stop              # stops and removes it
#
# PostgreSQL comes from Debian's packages (apt-get install -y postgresql); durability is turned
# off (fsync, synchronous_commit), which is right for tests and wrong for anything else.
set -euo pipefail

PORT="${CRYPTORG_TEST_PG_PORT:-54329}"
MARKER=.cryptorg-test-postgres

find_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$dir" ] && command -v initdb >/dev/null 2>&1; then dir="$(dirname "$(command -v initdb)")"; fi
  echo "$dir"
}

# initdb and postgres refuse to run as root: as root, run them as the postgres user.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

start() {
  local bin data
  bin="$(find_bin)"
  if [ -z "$bin" ]; then
    echo "PostgreSQL is not installed; on Debian: apt-get install -y postgresql" >&2
    exit 1
  fi
  data="$(mktemp -d /tmp/cryptorg-test-pg.XXXXXX)"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$data"; fi
  as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # Marks the folder as this script's, so that "stop" never removes anything else.
  touch "$data/$MARKER"
  if ! as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $PORT -k $data -c fsync=off -c synchronous_commit=off \
     -c full_page_writes=off -c max_connections=200" >/dev/null; then
    echo "PostgreSQL did not start on 127.0.0.1:$PORT (port in use? set CRYPTORG_TEST_PG_PORT):" >&2
    tail -n 5 "$data/server.log" >&2 || true
    rm -rf "$data"
    exit 1
  fi
  "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -c 'create database cryptorg_test' >/dev/null
  echo "export CRYPTORG_TEST_PGDATA=$data"
  echo "export CRYPTORG_TEST_PG=postgres://postgres@127.0.0.1:$PORT/cryptorg_test"
}

stop() {
  local bin data="${CRYPTORG_TEST_PGDATA:-}"
  bin="$(find_bin)"
  if [ -z "$data" ] || [ ! -f "$data/$MARKER" ] || [ ! -f "$data/PG_VERSION" ]; then
    echo "CRYPTORG_TEST_PGDATA names no server this script started; nothing removed" >&2
    exit 1
  fi
  as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
  rm -rf "$data"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: scripts/test-postgres.sh start|stop" >&2
    exit 2
    ;;
esac
