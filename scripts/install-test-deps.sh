#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotently: the PostgreSQL
# client tools (psql, pgbench). Safe to run repeatedly; does nothing when present.
set -euo pipefail

if ! command -v psql >/dev/null 2>&1; then
  echo "installing postgresql-client (psql, pgbench)"
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=""; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-client >/dev/null
fi
psql --version
