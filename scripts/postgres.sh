#!/usr/bin/env bash
# Start (or stop) a private, throw-away PostgreSQL cluster for the test suite.
#   source scripts/postgres.sh start   -> exports SEEDLENS_TEST_PG_URL and SEEDLENS_TEST_PG_DIR
#   bash scripts/postgres.sh stop DIR
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -u
# A free loopback port unless SEEDLENS_TEST_PG_PORT names one.
_pg_port=${SEEDLENS_TEST_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

_pg_run() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

pg_start() {
  local pgbin
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$pgbin" ]; then
    echo "postgres.sh: no PostgreSQL server found under /usr/lib/postgresql; PostgreSQL tests will skip (or fail under CI=true)" >&2
    return 0
  fi
  local dir
  dir=$(mktemp -d /tmp/seedlens-pg.XXXXXX)
  chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  _pg_run "$pgbin/initdb -D $dir/data -U postgres --auth=trust -E UTF8 --no-sync" >/dev/null
  if ! _pg_run "$pgbin/pg_ctl -D $dir/data -l $dir/log -w -o '-c listen_addresses=127.0.0.1 -p $_pg_port -k $dir -c fsync=off -c max_connections=200' start" >/dev/null; then
    echo "postgres.sh: PostgreSQL did not start on port $_pg_port; its log:" >&2
    cat "$dir/log" >&2
    return 1
  fi
  "$pgbin/psql" -h 127.0.0.1 -p "$_pg_port" -U postgres -qc 'CREATE DATABASE seedlens_test' >/dev/null
  export SEEDLENS_TEST_PG_DIR="$dir"
  export SEEDLENS_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$_pg_port/seedlens_test"
  echo "postgres.sh: PostgreSQL running at $SEEDLENS_TEST_PG_URL"
}

pg_stop() {
  local dir=${1:-${SEEDLENS_TEST_PG_DIR:-}}
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  local pgbin
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  _pg_run "$pgbin/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) pg_start ;;
  stop) pg_stop "${2:-}" ;;
  *) echo "usage: source scripts/postgres.sh start | bash scripts/postgres.sh stop DIR" >&2 ;;
esac
