#!/usr/bin/env bash
# HTAP with real clients: TPC-H q1 + q6 over Arrow Flight SQL against one
# `rustydb serve`, idle and while pgbench's TPC-B runs against the same
# server (benches/python/htap_wire.py). The in-process measurement of the
# tpch bench (`--htap-only 1`) runs first on the same data, for reference.
#
#   benches/htap-wire.sh                       # SF1, 11 rounds, 1 pgbench client
#   SF=0.1 ROUNDS=3 CLIENTS=4 RATE=500 benches/htap-wire.sh
#   POSTGRES=1 benches/htap-wire.sh            # then the same against PostgreSQL
#
# With POSTGRES=1 the rounds run again against a throwaway PostgreSQL
# cluster (benches/postgres.sh, default settings), lineitem loaded by COPY
# and the queries sent over psycopg: what a database on the same machine
# gives under the same load.
#
# Builds RustyDB in release mode; pgbench and the Python clients come from
# scripts/install-test-deps.sh.
set -euo pipefail

SF=${SF:-1}
ROUNDS=${ROUNDS:-11}
CLIENTS=${CLIENTS:-1}
RATE=${RATE:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rustydb/target}
QUERIES=${QUERIES:-$ROOT/../shared/tpch/queries}
WORK=$(mktemp -d)
PG_PORT=${PG_PORT:-54431}
FLIGHT_PORT=${FLIGHT_PORT:-54432}
RUSTY_PID=
if [ "${POSTGRES:-0}" = 1 ]; then source "$ROOT/benches/postgres.sh"; else stop_postgres() { :; }; fi
trap 'if [ -n "$RUSTY_PID" ]; then kill "$RUSTY_PID" 2>/dev/null || true; fi; stop_postgres; rm -rf "$WORK"' EXIT

"$ROOT/scripts/install-test-deps.sh" >/dev/null
(cd "$ROOT" && cargo build --release --quiet -p rustydb-benches --bin tpch)
(cd "$ROOT" && cargo build --release --quiet -p rustydb-server --bin rustydb)
"$CARGO_TARGET_DIR/release/tpch" --sf "$SF" --queries "$QUERIES" --htap-only 1 --parquet "$WORK/pq" | grep '^HTAP'

"$CARGO_TARGET_DIR/release/rustydb" serve --data "$WORK/server" --pg-listen "127.0.0.1:$PG_PORT" \
  --flight-listen "127.0.0.1:$FLIGHT_PORT" >"$WORK/server.log" 2>&1 &
RUSTY_PID=$!
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=rustydb pgbench -i -q -s 10 rustydb >/dev/null 2>&1
(cd "$ROOT/benches/python" && python3 htap_wire.py "$WORK/pq" "$QUERIES" "$FLIGHT_PORT" "$PG_PORT" "$ROUNDS" "$CLIENTS" "$RATE")

if [ "${POSTGRES:-0}" = 1 ]; then
  kill "$RUSTY_PID" && wait "$RUSTY_PID" 2>/dev/null || true
  RUSTY_PID=
  start_postgres "$WORK/pg" "$PG_PORT"
  PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=rustydb pgbench -i -q -s 10 rustydb >/dev/null 2>&1
  (cd "$ROOT/benches/python" && python3 htap_wire.py --postgres "$WORK/pq" "$QUERIES" "$PG_PORT" "$ROUNDS" "$CLIENTS" "$RATE")
fi
