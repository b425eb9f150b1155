#!/usr/bin/env bash
# TPC-H side by side in one run: RustyDB (ingest, CHECKPOINT, 22 queries),
# DataFusion 55 over the same data as Parquet and in memory, and DuckDB
# (Python package) in memory; every RustyDB answer is checked against
# DataFusion's and DuckDB's. Then the server's own memory: `rustydb serve`
# (default --memory-mb) loads the same data over Flight SQL, checkpoints
# and runs the 22 queries, with its resident memory after each phase.
#
#   benches/tpch-compare.sh          # SF1
#   SF=0.1 benches/tpch-compare.sh   # quick
set -euo pipefail

SF=${SF:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rustydb/target}
WORK=$(mktemp -d)

FLIGHT_PORT=${FLIGHT_PORT:-54421}
RUSTY_PID=
trap 'if [ -n "$RUSTY_PID" ]; then kill "$RUSTY_PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

python3 -c 'import duckdb' 2>/dev/null || pip install --quiet duckdb
"$ROOT/scripts/install-test-deps.sh" >/dev/null
(cd "$ROOT" && cargo build --release --quiet -p rustydb-benches --bin tpch)
(cd "$ROOT" && cargo build --release --quiet -p rustydb-server --bin rustydb)
QUERIES=${QUERIES:-$ROOT/../shared/tpch/queries}
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
/usr/bin/time -f "bench process peak RSS %M kB (data generation, RustyDB and DataFusion together)" \
  "$CARGO_TARGET_DIR/release/tpch" --sf "$SF" --queries "$QUERIES" \
  --parquet "$WORK/pq" --answers "$WORK/answers"
python3 "$ROOT/benches/python/tpch_duckdb.py" "$WORK/pq" "$QUERIES" "$WORK/answers"

"$CARGO_TARGET_DIR/release/rustydb" serve --data "$WORK/server" --pg-listen 127.0.0.1:0 \
  --flight-listen "127.0.0.1:$FLIGHT_PORT" >"$WORK/server.log" 2>&1 &
RUSTY_PID=$!
for _ in $(seq 50); do grep -q "Arrow Flight SQL" "$WORK/server.log" && break; sleep 0.2; done
(cd "$ROOT/benches/python" && python3 tpch_server.py "$WORK/pq" "$QUERIES" "$WORK/answers" "$FLIGHT_PORT" "$RUSTY_PID")
