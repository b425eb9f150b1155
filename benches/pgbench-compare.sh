#!/usr/bin/env bash
# pgbench against RustyDB and a throwaway PostgreSQL on the same machine,
# same load, one run. Prints a Markdown table of tps and ratios (paste it
# into docs/benchmarks.md).
#
#   benches/pgbench-compare.sh            # scale 10, 30 s per load
#   SCALE=1 SECONDS_PER_RUN=10 benches/pgbench-compare.sh
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

run_load() { # label host port user extra-args...
  local label=$1 port=$2 user=$3; shift 3
  PGHOST=127.0.0.1 PGPORT=$port PGUSER=$user pgbench -n -T "$SECS" -c "$CLIENTS" -j "$JOBS" "$@" rustydb 2>&1 \
    | awk -v l="$label" '/^tps/ {print l, $3}'
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
copy_load() { # port user
  for _ in $(seq "$COPY_RUNS"); do copy_once "$1" "$2"; done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

init() { # port user
  PGHOST=127.0.0.1 PGPORT=$1 PGUSER=$2 pgbench -i -q -s "$SCALE" rustydb >/dev/null 2>&1
}

# RustyDB
"$CARGO_TARGET_DIR/release/rustydb" serve --data "$WORK/rusty" --pg-listen "127.0.0.1:$RUSTY_PORT" >/dev/null 2>&1 &
RUSTY_PID=$!
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$RUSTY_PORT" && break; sleep 0.2; done
init "$RUSTY_PORT" rustydb
R_SELECT=$(run_load select "$RUSTY_PORT" rustydb -S -M prepared | awk '{print $2}')
R_TPCB_P=$(run_load tpcb "$RUSTY_PORT" rustydb -M prepared | awk '{print $2}')
R_TPCB_S=$(run_load tpcb "$RUSTY_PORT" rustydb | awk '{print $2}')
R_COPY=$(copy_load "$RUSTY_PORT" rustydb)
kill "$RUSTY_PID"; wait "$RUSTY_PID" 2>/dev/null || true; RUSTY_PID=

# PostgreSQL, default settings (fsync and synchronous_commit on)
start_postgres "$WORK/pg" "$PG_PORT"
init "$PG_PORT" rustydb
P_SELECT=$(run_load select "$PG_PORT" rustydb -S -M prepared | awk '{print $2}')
P_TPCB_P=$(run_load tpcb "$PG_PORT" rustydb -M prepared | awk '{print $2}')
P_TPCB_S=$(run_load tpcb "$PG_PORT" rustydb | awk '{print $2}')
P_COPY=$(copy_load "$PG_PORT" rustydb)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat <<TABLE
pgbench scale $SCALE, $CLIENTS clients, $JOBS threads, ${SECS}s per load, $(nproc) cores

| load | RustyDB tps | PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') tps | ratio |
|---|---|---|---|
| select-only (-S -M prepared) | $R_SELECT | $P_SELECT | $(ratio "$R_SELECT" "$P_SELECT") |
| TPC-B-like (-M prepared) | $R_TPCB_P | $P_TPCB_P | $(ratio "$R_TPCB_P" "$P_TPCB_P") |
| TPC-B-like (simple) | $R_TPCB_S | $P_TPCB_S | $(ratio "$R_TPCB_S" "$P_TPCB_S") |
| COPY FROM STDIN, $COPY_ROWS rows (rows/s, median of $COPY_RUNS) | $R_COPY | $P_COPY | $(ratio "$R_COPY" "$P_COPY") |
TABLE
