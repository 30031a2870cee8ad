#!/usr/bin/env bash
# Start/stop the real servers the integration tests use: PostgreSQL and moto's standalone AWS server.
# Usage: scripts/services.sh start|stop|env     State lives under $AGENTAUDIT_SERVICES_DIR.
set -euo pipefail

DIR="${AGENTAUDIT_SERVICES_DIR:-${TMPDIR:-/tmp}/agentaudit-services}"
PG_PORT="${AGENTAUDIT_PG_PORT:-54329}"
MOTO_PORT="${AGENTAUDIT_MOTO_PORT:-54330}"
PG_DATA="$DIR/pgdata"
PG_BIN="$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -n1)")")"

as_pg() {
  # PostgreSQL refuses to run as root; use the postgres account when we are root.
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  mkdir -p "$DIR"
  if [ "$(id -u)" = "0" ]; then chown postgres "$DIR"; fi
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$DIR/postgres.log" -w \
      -o "-p $PG_PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  fi
  as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='agentaudit_test'" | grep -q 1 ||
    as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres agentaudit_test
}

pg_stop() {
  if [ -s "$PG_DATA/PG_VERSION" ]; then as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null 2>&1 || true; fi
}

moto_start() {
  mkdir -p "$DIR"
  if [ -s "$DIR/moto.pid" ] && kill -0 "$(cat "$DIR/moto.pid")" 2>/dev/null; then return; fi
  # Managed policies loaded so AdministratorAccess & co. can be attached; parallel seeding is avoided.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$DIR/moto.log" 2>&1 &
  echo $! >"$DIR/moto.pid"
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/')" 2>/dev/null; then return; fi
    sleep 0.2
  done
  echo "moto server did not start; see $DIR/moto.log" >&2
  exit 1
}

moto_stop() {
  if [ -s "$DIR/moto.pid" ]; then kill "$(cat "$DIR/moto.pid")" 2>/dev/null || true; rm -f "$DIR/moto.pid"; fi
}

env_lines() {
  echo "export AGENTAUDIT_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/agentaudit_test"
  echo "export AGENTAUDIT_TEST_MOTO_URL=http://127.0.0.1:$MOTO_PORT"
}

case "${1:-}" in
  start) pg_start; moto_start; env_lines ;;
  stop) pg_stop; moto_stop ;;
  env) env_lines ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
