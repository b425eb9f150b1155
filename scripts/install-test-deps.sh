#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotently: the PostgreSQL
# client tools (psql, pgbench), openssl for test certificates, the
# Python drivers (psycopg 3, asyncpg, SQLAlchemy, ADBC Flight SQL with
# pyarrow) and PgJDBC with a Java runtime. Safe to run repeatedly; does
# nothing when everything is present.
set -euo pipefail

if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=""; fi

if ! command -v psql >/dev/null 2>&1 || ! command -v pgbench >/dev/null 2>&1; then
  echo "installing postgresql-client (psql, pgbench)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-client >/dev/null
fi
psql --version

if ! command -v openssl >/dev/null 2>&1; then
  echo "installing openssl (test certificates)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
fi

if ! command -v java >/dev/null 2>&1; then
  echo "installing a Java runtime (PgJDBC tests)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq default-jre-headless >/dev/null
fi
if [ ! -f "${RUSTYDB_PGJDBC_JAR:-/usr/share/java/postgresql.jar}" ]; then
  echo "installing PgJDBC (libpostgresql-jdbc-java)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libpostgresql-jdbc-java >/dev/null
fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "installing python3"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-pip >/dev/null
fi
if ! python3 -c "import psycopg" >/dev/null 2>&1; then
  echo "installing psycopg 3"
  python3 -m pip install --quiet --disable-pip-version-check "psycopg[binary]>=3.2,<3.4" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "psycopg[binary]>=3.2,<3.4"
fi
if ! python3 -c "import asyncpg" >/dev/null 2>&1; then
  echo "installing asyncpg"
  python3 -m pip install --quiet --disable-pip-version-check "asyncpg>=0.29,<0.33" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "asyncpg>=0.29,<0.33"
fi
if ! python3 -c "import sqlalchemy" >/dev/null 2>&1; then
  echo "installing SQLAlchemy"
  python3 -m pip install --quiet --disable-pip-version-check "sqlalchemy>=2.0,<2.1" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "sqlalchemy>=2.0,<2.1"
fi
if ! python3 -c "import adbc_driver_flightsql.dbapi, pyarrow.flight" >/dev/null 2>&1; then
  echo "installing the ADBC Flight SQL driver and pyarrow"
  python3 -m pip install --quiet --disable-pip-version-check "adbc-driver-flightsql>=1.0" "pyarrow>=14" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "adbc-driver-flightsql>=1.0" "pyarrow>=14"
fi
python3 -c "import psycopg, asyncpg, sqlalchemy; print('psycopg', psycopg.__version__, 'asyncpg', asyncpg.__version__, 'sqlalchemy', sqlalchemy.__version__)"
python3 -c "import adbc_driver_flightsql, pyarrow; print('adbc_driver_flightsql', adbc_driver_flightsql.__version__, 'pyarrow', pyarrow.__version__)"
