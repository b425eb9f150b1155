#!/usr/bin/env bash
# Flight SQL against the PostgreSQL protocol on one RustyDB server, and COPY
# into a throwaway PostgreSQL, with the same generated data. Prints a
# Markdown table (paste it into docs/benchmarks.md).
#
#   benches/flight-compare.sh              # 10M rows
#   ROWS=1000000 benches/flight-compare.sh
#
# Needs PostgreSQL's server binaries (installed with apt when missing) and
# the Python clients of scripts/install-test-deps.sh. Builds RustyDB in
# release mode.
set -euo pipefail

ROWS=${ROWS:-10000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rustydb/target}
WORK=$(mktemp -d)
RUSTY_PORT=${RUSTY_PORT:-54410}
FLIGHT_PORT=${FLIGHT_PORT:-54411}
PG_PORT=${PG_PORT:-54412}

"$ROOT/scripts/install-test-deps.sh" >/dev/null
source "$ROOT/benches/postgres.sh"
stop_rustydb() { if [ -n "${RUSTY_PID:-}" ]; then kill "$RUSTY_PID" 2>/dev/null || true; fi; }
trap 'stop_rustydb; stop_postgres; rm -rf "$WORK"' EXIT

# With -p: `--bin rustydb` alone resolves features over more of the
# workspace and, from a target directory built with -p, rebuilt every
# dependency.
(cd "$ROOT" && cargo build --release --quiet -p rustydb-server --bin rustydb)
"$CARGO_TARGET_DIR/release/rustydb" serve --data "$WORK/rusty" --pg-listen "127.0.0.1:$RUSTY_PORT" \
  --flight-listen "127.0.0.1:$FLIGHT_PORT" >/dev/null 2>&1 &
RUSTY_PID=$!
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$RUSTY_PORT" && break; sleep 0.2; done
start_postgres "$WORK/pg" "$PG_PORT"

python3 "$ROOT/benches/python/flight_vs_pg.py" "$ROWS" "$RUSTY_PORT" "$FLIGHT_PORT" "$PG_PORT"
echo
echo "$(nproc) cores; PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') with default settings"
