# shellcheck shell=bash
# Sourced by infra.sh: the PostgreSQL cluster under FerretDB (FERRETDB_BACKEND=postgresql), in
# .run/postgres, from the machine's PostgreSQL server binaries. Needs RUN, say/die and
# close_inherited_fds (infra/processes.sh).

PG_DIR="$RUN/postgres"
# RUN made first: whether the server's user reaches it must not depend on whether it existed
# yet (a cluster started before it did was put in /var/tmp, and `stop` then looked in RUN)
mkdir -p "$RUN"
if [[ "$(id -u)" == 0 ]] && ! runuser -u postgres -- test -x "$RUN" 2>/dev/null; then
  # A checkout the server's user cannot reach (a `mktemp -d` folder is private to root): the
  # cluster lives in /var/tmp, one per checkout. FerretDB on SQLite is no alternative: its
  # pool of 100 runs dry and the server deadlocks (ferretdb.sh).
  PG_DIR="/var/tmp/connectflo-postgres-$(printf %s "$RUN" | sha256sum | cut -c1-12)"
fi
PG_PORT="${FERRETDB_PG_PORT:-54329}"

pg_bin() { # the newest PostgreSQL server binaries on this machine
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$dir" && -x "$dir/pg_ctl" ]] ||
    die "FERRETDB_BACKEND=postgresql needs PostgreSQL's server (Debian: apt-get install postgresql)"
  echo "$dir"
}

as_postgres() { # PostgreSQL refuses to run as root
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  local bin
  bin="$(pg_bin)"
  mkdir -p "$PG_DIR"
  [[ "$(id -u)" == 0 ]] && chown postgres "$PG_DIR"
  if [[ ! -f "$PG_DIR/data/PG_VERSION" ]]; then
    say "mongo: creating the PostgreSQL cluster for FerretDB in $PG_DIR/data"
    as_postgres "$bin/initdb" -D "$PG_DIR/data" -A trust -U postgres --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
      die "initdb failed (log: $PG_DIR/initdb.log)"
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    say "mongo: starting PostgreSQL on 127.0.0.1:$PG_PORT (log $PG_DIR/postgres.log)"
    # fsync off: a development database; a crash of a process (what the tests do) loses nothing.
    # Statistics target 10 and a 10 ms autovacuum cost delay: FerretDB's queries use only the
    # statistics of the indexed expressions (a few common values tell the planner which GIN
    # index is selective: ferretdb-indexes.sql), and an ANALYZE over large execution documents, with
    # autovacuum's default pace, took a core's tenth for a minute after a burst of inserts.
    # Autovacuum looks every 5 s (not 60): a new or fast-growing table gets its statistics
    # at once. Without them the planner takes FerretDB's equalities as equally selective and
    # ANDs a GIN index that names every row (the tenant's, the provider's) with the one on _id:
    # an update of a message by {_id, tenant_id, provider} read 12,000 index entries (2 ms
    # instead of 0.06; 4.1 ms on average over the conversations phase at full size).
    # 300 connections: FerretDB's pool (ferretdb.sh) must never run dry, see there.
    # Custom plans for every execution: FerretDB's prepared filters name the key as a parameter
    # (`_jsonb->$1 @> $2`), and only a plan made with it can use an index (ferretdb-indexes.sql).
    # FERRETDB_PG_STATEMENTS=1: pg_stat_statements, to see which of FerretDB's queries cost what
    # (select calls, rows, total_exec_time, query from pg_stat_statements order by rows desc).
    local statements=""
    [[ "${FERRETDB_PG_STATEMENTS:-}" == 1 ]] &&
      statements=" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    # In a subshell without our descriptors: the server outlives us and must not hold the lock.
    (
      close_inherited_fds
      as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 30 start \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c default_toast_compression=lz4 -c default_statistics_target=10 -c autovacuum_vacuum_cost_delay=10ms -c plan_cache_mode=force_custom_plan -c autovacuum_naptime=5s$statements" </dev/null >/dev/null
    ) || die "PostgreSQL did not start (log: $PG_DIR/postgres.log)"
  fi
  as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atqc \
    "select 1 from pg_database where datname = 'ferretdb'" | grep -q 1 ||
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ferretdb
  # Members of the role connectflo_password sign in with a password (SCRAM), everyone else is
  # trusted: the tests' tenant databases (the Postgres node's) have roles of their own, and a
  # wrong password must be refused as it is on a real server.
  as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atqc \
    "select 1 from pg_roles where rolname = 'connectflo_password'" | grep -q 1 ||
    as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc \
      "create role connectflo_password nologin" >/dev/null
  local hba="$PG_DIR/data/pg_hba.conf"
  if ! grep -q '+connectflo_password' "$hba"; then
    sed -i '0,/^[[:space:]]*\(local\|host\)/s//host all +connectflo_password 127.0.0.1\/32 scram-sha-256\n&/' "$hba"
    as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" reload >/dev/null
  fi
  # GIN indexes beside FerretDB's btrees, so that its finds by _id use an index
  as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ferretdb -q -v ON_ERROR_STOP=1 \
    -f - <"$(dirname "${BASH_SOURCE[0]}")/ferretdb-indexes.sql" >/dev/null ||
    die "PostgreSQL: ferretdb-indexes.sql failed"
  if [[ "${FERRETDB_PG_STATEMENTS:-}" == 1 ]]; then
    as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ferretdb -q \
      -c "create extension if not exists pg_stat_statements" >/dev/null
  fi
}

stop_postgres() {
  [[ -f "$PG_DIR/data/PG_VERSION" ]] || return 0
  local bin
  bin="$(pg_bin)"
  if as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    say "mongo: PostgreSQL stopped"
  fi
}
