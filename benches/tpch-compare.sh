#!/usr/bin/env bash
# TPC-H side by side in one run: RustyDB (ingest, CHECKPOINT, 22 queries),
# DataFusion 55 over the same data as Parquet and in memory, and DuckDB
# (Python package) in memory; every RustyDB answer is checked against
# DataFusion's and DuckDB's.
#
#   benches/tpch-compare.sh          # SF1
#   SF=0.1 benches/tpch-compare.sh   # quick
set -euo pipefail

SF=${SF:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rustydb/target}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

python3 -c 'import duckdb' 2>/dev/null || pip install --quiet duckdb
(cd "$ROOT" && cargo build --release --quiet -p rustydb-benches --bin tpch)
QUERIES=${QUERIES:-$ROOT/../shared/tpch/queries}
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
/usr/bin/time -f "bench process peak RSS %M kB (data generation, RustyDB and DataFusion together)" \
  "$CARGO_TARGET_DIR/release/tpch" --sf "$SF" --queries "$QUERIES" \
  --parquet "$WORK/pq" --answers "$WORK/answers"
python3 "$ROOT/benches/python/tpch_duckdb.py" "$WORK/pq" "$QUERIES" "$WORK/answers"
