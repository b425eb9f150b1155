# Sourced by the bench scripts: a throwaway PostgreSQL cluster with default
# settings (fsync and synchronous_commit on), trust auth on loopback, user
# `rustydb` and database `rustydb`.
#   start_postgres DIR PORT    stop_postgres
# Installs PostgreSQL's server binaries with apt when missing.

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/postgres" ]; then
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=""; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

# PostgreSQL refuses to run as root: run it as the postgres user when we are root.
su_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() { # dir port
  PG_DIR=$1
  mkdir -p "$PG_DIR" && chmod 777 "$(dirname "$PG_DIR")"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
  su_pg "$PGBIN/initdb" -D "$PG_DIR" -U rustydb --auth=trust >/dev/null
  su_pg "$PGBIN/pg_ctl" -D "$PG_DIR" -o "-p $2 -k $(dirname "$PG_DIR") -c listen_addresses=127.0.0.1" -w \
    -l "$(dirname "$PG_DIR")/pg.log" start >/dev/null
  PGHOST=127.0.0.1 PGPORT=$2 psql -q -U rustydb -d postgres -c "CREATE DATABASE rustydb" >/dev/null
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ]; then
    su_pg "$PGBIN/pg_ctl" -D "$PG_DIR" -m immediate stop >/dev/null 2>&1 || true
  fi
}
