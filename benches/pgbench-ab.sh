#!/usr/bin/env bash
# Two builds of RustyDB against each other under pgbench: select-only and
# TPC-B prepared, on one data directory, each load ROUNDS times per binary,
# which goes first alternating. For telling a change's cost from this VM's
# drift, which moves PostgreSQL's own numbers by 10-25% between runs of
# benches/pgbench-compare.sh.
#
#   benches/pgbench-ab.sh OLD_BINARY NEW_BINARY
#   SCALE=10 SECONDS_PER_RUN=20 ROUNDS=3 (defaults)
#
# A binary of another commit: `git worktree add /tmp/old COMMIT`, then in
# it `cargo build --release -p rustydb-server --bin rustydb` and copy
# `$CARGO_TARGET_DIR/release/rustydb` aside before building the other.
set -euo pipefail

[ $# = 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
SCALE=${SCALE:-10}
SECS=${SECONDS_PER_RUN:-20}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-55441}
WORK=$(mktemp -d)
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start() { # binary
  "$1" serve --data "$WORK/data" --pg-listen "127.0.0.1:$PORT" --flight-listen off >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 150); do pg_isready -q -h 127.0.0.1 -p "$PORT" && return; sleep 0.2; done
  echo "$1 did not start" >&2
  exit 1
}
stop() {
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=""
}
tps() { # pgbench args...
  PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=rustydb pgbench -c 4 -j 2 -T "$SECS" "$@" rustydb 2>/dev/null |
    awk '/^tps/ { printf "%d", $3 }'
}

start "$2"
PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=rustydb pgbench -i -q -s "$SCALE" rustydb >/dev/null 2>&1
stop
echo "| round | binary | select-only tps | TPC-B prepared tps |"
echo "|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
  order=("$1" "$2")
  [ $((round % 2)) = 0 ] && order=("$2" "$1")
  for bin in "${order[@]}"; do
    name=$([ "$bin" = "$1" ] && echo old || echo new)
    start "$bin"
    s=$(tps -S -M prepared)
    t=$(tps -M prepared)
    stop
    echo "| $round | $name | $s | $t |"
  done
done
