#!/usr/bin/env bash
# Runs every test of the project: layering checks, formatting, unit and
# integration tests (including crash and concurrency tests) and the
# sqllogictest suite. Exit status is non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustydb/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== test dependencies"
./scripts/install-test-deps.sh

echo "== layering: storage and catalog must not depend on DataFusion"
for crate in rustydb-storage rustydb-catalog; do
  if cargo tree -p "$crate" -e normal --prefix none | grep -q '^datafusion'; then
    echo "layering violation: $crate depends on datafusion" >&2
    exit 1
  fi
done

echo "== layering: front ends use only the engine's api, pg and extension modules"
# The PostgreSQL front end and the shell may use engine::pg; Flight SQL (and
# every other front end) only engine::api and engine::extension. Nothing
# outside the engine reaches storage through Database::storage().
bad=$(git grep -nE 'rustydb_engine::(\{|[a-z_]+)' -- server/src flight/src \
  | grep -vE 'rustydb_engine::(api|pg|extension)\b' || true)
bad+=$(git grep -nE 'rustydb_engine::pg\b' -- flight/src || true)
bad+=$(git grep -nE '\.storage\(\)' -- server/src flight/src || true)
if [ -n "$bad" ]; then
  echo "layering violation: a front end reaches past engine::api / engine::pg:" >&2
  echo "$bad" >&2
  exit 1
fi

echo "== layering inside the engine"
# Session's methods live in session/, statements/ and dml/. The floors below
# the session (query: DataFusion integration, sql: parsing and names,
# fastpath, extension) never name it, nor the api above it (extension.rs
# only its result types), nor PostgreSQL compatibility (pg/ registers into
# them, not the other way round).
bad=$(git grep -n '^impl Session' -- engine/src | grep -vE '^engine/src/(session|statements|dml)/' || true)
bad+=$(git grep -nE 'crate::(session|api|statements|dml)\b' -- engine/src/query engine/src/sql engine/src/fastpath || true)
bad+=$(git grep -nE 'crate::(session|statements|dml)\b' -- engine/src/extension.rs || true)
bad+=$(git grep -nE 'crate::pg\b' -- engine/src/query engine/src/sql engine/src/fastpath engine/src/extension.rs || true)
if [ -n "$bad" ]; then
  echo "layering violation inside the engine:" >&2
  echo "$bad" >&2
  exit 1
fi

echo "== one arrow version in Cargo.lock"
n=$(grep -c '^name = "arrow"$' Cargo.lock)
if [ "$n" -ne 1 ]; then
  echo "Cargo.lock holds $n versions of arrow" >&2
  exit 1
fi

echo "== formatting"
cargo fmt --all -- --check

echo "== tests"
cargo test --workspace --locked
