#!/usr/bin/env bash
# pgbench against RustyDB and a throwaway PostgreSQL on the same machine,
# same load. Both servers run side by side (the idle one costs nothing) and
# every load runs ROUNDS times on each, alternating which goes first; the
# median is reported, since single runs on a shared 2-core VM vary by 10-15%
# (the same TPC-B run gave 2,737 and 3,142 tps minutes apart). Prints a
# Markdown table of tps and ratios (paste it into docs/benchmarks.md).
#
#   benches/pgbench-compare.sh            # scale 10, 30 s per run, 3 rounds
#   SCALE=1 SECONDS_PER_RUN=10 ROUNDS=1 benches/pgbench-compare.sh
#   COPY_ROWS=1000000 (default): rows loaded by each COPY FROM STDIN run
#   COPY_RUNS=3 (default): COPY runs per server; the median is reported
#
# Needs pgbench and PostgreSQL's server binaries (Debian: postgresql-15);
# installs them with apt when missing. Builds RustyDB in release mode.
set -euo pipefail

SCALE=${SCALE:-10}
SECS=${SECONDS_PER_RUN:-30}
CLIENTS=${CLIENTS:-4}
JOBS=${JOBS:-2}
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rustydb/target}
WORK=$(mktemp -d)
RUSTY_PORT=${RUSTY_PORT:-54400}
PG_PORT=${PG_PORT:-54401}

source "$ROOT/benches/postgres.sh"
cleanup() {
  [ -n "${RUSTY_PID:-}" ] && kill "$RUSTY_PID" 2>/dev/null || true
  stop_postgres
  rm -rf "$WORK"
}
trap cleanup EXIT

# With -p: `--bin rustydb` alone resolves features over more of the
# workspace and, from a target directory built with -p, rebuilt every
# dependency.
(cd "$ROOT" && cargo build --release --quiet -p rustydb-server --bin rustydb)

run_load() { # port user pgbench-args...; prints the tps
  local port=$1 user=$2; shift 2
  PGHOST=127.0.0.1 PGPORT=$port PGUSER=$user pgbench -n -T "$SECS" -c "$CLIENTS" -j "$JOBS" "$@" rustydb 2>&1 \
    | awk '/^tps/ {print $3}'
}

# COPY FROM STDIN of short rows (text format, no index) through psql, the
# same file for both servers, COPY_RUNS times (each into a new table);
# prints the median rows/s, since single COPY timings on a shared VM vary
# by a quarter from run to run.
COPY_ROWS=${COPY_ROWS:-1000000}
COPY_RUNS=${COPY_RUNS:-3}
awk -v n="$COPY_ROWS" 'BEGIN { for (i = 1; i <= n; i++) printf "%d\t%d\tname %d\t%.2f\n", i, i % 1000, i, i / 7 }' \
  >"$WORK/copy.tsv"
copy_once() { # port user
  local sql="CREATE TABLE copy_bench (id BIGINT NOT NULL, grp INTEGER, name TEXT, amount DOUBLE PRECISION)"
  PGHOST=127.0.0.1 PGPORT=$1 PGUSER=$2 psql -q -X -d rustydb -c "DROP TABLE IF EXISTS copy_bench" -c "$sql" >/dev/null 2>&1
  local start end
  start=$(date +%s.%N)
  PGHOST=127.0.0.1 PGPORT=$1 PGUSER=$2 psql -q -X -v ON_ERROR_STOP=1 -d rustydb \
    -c "COPY copy_bench FROM STDIN" <"$WORK/copy.tsv" >/dev/null
  end=$(date +%s.%N)
  awk -v n="$COPY_ROWS" -v s="$start" -v e="$end" 'BEGIN { printf "%d\n", n / (e - s) }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
copy_load() { # port user
  for _ in $(seq "$COPY_RUNS"); do copy_once "$1" "$2"; done | median
}

init() { # port user
  PGHOST=127.0.0.1 PGPORT=$1 PGUSER=$2 pgbench -i -q -s "$SCALE" rustydb >/dev/null 2>&1
}

# RustyDB, and PostgreSQL with default settings (fsync and
# synchronous_commit on).
"$CARGO_TARGET_DIR/release/rustydb" serve --data "$WORK/rusty" --pg-listen "127.0.0.1:$RUSTY_PORT" >/dev/null 2>&1 &
RUSTY_PID=$!
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$RUSTY_PORT" && break; sleep 0.2; done
start_postgres "$WORK/pg" "$PG_PORT"
init "$RUSTY_PORT" rustydb
init "$PG_PORT" rustydb

# compare name pgbench-args...: ROUNDS runs on each server, alternating
# which goes first; leaves the medians in R_<name> and P_<name>.
compare() {
  local name=$1; shift
  local r="" p=""
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
      r+="$(run_load "$RUSTY_PORT" rustydb "$@")"$'\n'
      p+="$(run_load "$PG_PORT" rustydb "$@")"$'\n'
    else
      p+="$(run_load "$PG_PORT" rustydb "$@")"$'\n'
      r+="$(run_load "$RUSTY_PORT" rustydb "$@")"$'\n'
    fi
  done
  printf -v "R_$name" '%s' "$(printf '%s' "$r" | grep . | median)"
  printf -v "P_$name" '%s' "$(printf '%s' "$p" | grep . | median)"
}
compare SELECT -S -M prepared
compare TPCB_P -M prepared
compare TPCB_S
R_COPY=$(copy_load "$RUSTY_PORT" rustydb)
P_COPY=$(copy_load "$PG_PORT" rustydb)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat <<TABLE
pgbench scale $SCALE, $CLIENTS clients, $JOBS threads, ${SECS}s per run, median of $ROUNDS runs, $(nproc) cores

| load | RustyDB tps | PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') tps | ratio |
|---|---|---|---|
| select-only (-S -M prepared) | $R_SELECT | $P_SELECT | $(ratio "$R_SELECT" "$P_SELECT") |
| TPC-B-like (-M prepared) | $R_TPCB_P | $P_TPCB_P | $(ratio "$R_TPCB_P" "$P_TPCB_P") |
| TPC-B-like (simple) | $R_TPCB_S | $P_TPCB_S | $(ratio "$R_TPCB_S" "$P_TPCB_S") |
| COPY FROM STDIN, $COPY_ROWS rows (rows/s, median of $COPY_RUNS) | $R_COPY | $P_COPY | $(ratio "$R_COPY" "$P_COPY") |
TABLE
