#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotently: the PostgreSQL
# client tools (psql, pgbench), openssl for test certificates, the
# Python drivers (psycopg 3, asyncpg, SQLAlchemy, ADBC Flight SQL with
# pyarrow) and PgJDBC with a Java runtime. Safe to run repeatedly; does
# nothing when everything is present.
set -euo pipefail

if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=""; fi

# apt_install WHAT PACKAGE...: installs Debian packages, saying what for.
apt_install() {
  echo "installing $1"
  shift
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# pip_install IMPORTS SPEC...: installs the specs unless python3 can already
# import IMPORTS (a comma-separated import list). Falls back to
# --break-system-packages where the system Python refuses plain installs.
pip_install() {
  local imports=$1
  shift
  if ! python3 -c "import $imports" >/dev/null 2>&1; then
    echo "installing $*"
    python3 -m pip install --quiet --disable-pip-version-check "$@" \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
  fi
}

if ! command -v psql >/dev/null 2>&1 || ! command -v pgbench >/dev/null 2>&1; then
  apt_install "postgresql-client (psql, pgbench)" postgresql-client
fi
psql --version

command -v openssl >/dev/null 2>&1 || apt_install "openssl (test certificates)" openssl
command -v java >/dev/null 2>&1 || apt_install "a Java runtime (PgJDBC tests)" default-jre-headless
if [ ! -f "${RUSTYDB_PGJDBC_JAR:-/usr/share/java/postgresql.jar}" ]; then
  apt_install "PgJDBC (libpostgresql-jdbc-java)" libpostgresql-jdbc-java
fi
command -v python3 >/dev/null 2>&1 || apt_install "python3" python3 python3-pip

pip_install psycopg "psycopg[binary]>=3.2,<3.4"
pip_install asyncpg "asyncpg>=0.29,<0.33"
pip_install sqlalchemy "sqlalchemy>=2.0,<2.1"
pip_install "adbc_driver_flightsql.dbapi, pyarrow.flight" "adbc-driver-flightsql>=1.0" "pyarrow>=14"
# moto's S3 server stands in for S3 in the segment store test.
pip_install "moto, moto.server, flask" "moto[server]>=5,<6"
python3 -c "import psycopg, asyncpg, sqlalchemy; print('psycopg', psycopg.__version__, 'asyncpg', asyncpg.__version__, 'sqlalchemy', sqlalchemy.__version__)"
python3 -c "import adbc_driver_flightsql, pyarrow; print('adbc_driver_flightsql', adbc_driver_flightsql.__version__, 'pyarrow', pyarrow.__version__)"
