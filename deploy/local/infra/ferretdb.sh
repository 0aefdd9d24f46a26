# shellcheck shell=bash
# Sourced by infra.sh: FerretDB 1.24 (the MongoDB wire protocol), built from our Go module in
# ferretdb/, storing in PostgreSQL (infra/postgres.sh) or in SQLite files.
# Needs HERE, CACHE, RUN, PY, say/die, infra/processes.sh and infra/postgres.sh.

MONGO_PORT="${MONGO_PORT:-27017}"
FERRETDB_LOG_LEVEL="${FERRETDB_LOG_LEVEL:-warn}"
FERRETDB_GOGC="${FERRETDB_GOGC:-400}"
# FERRETDB_DEBUG_ADDR (unset): e.g. 127.0.0.1:8089 serves Go's profiler (go tool pprof
# http://127.0.0.1:8089/debug/pprof/profile?seconds=20)

FERRET_BIN="$CACHE/bin/connectflo-ferretdb"
MONGO_DIR="$RUN/mongo"
MONGO_PID="$MONGO_DIR/ferretdb.pid"
MONGO_LOG="$MONGO_DIR/ferretdb.log"
MONGO_PORTFILE="$MONGO_DIR/ferretdb.port"
# FerretDB's storage: postgresql (a PostgreSQL cluster of our own in .run/postgres, from the
# machine's PostgreSQL server binaries: FerretDB pushes filters down to it, so a query that is
# not by _id does not read and decode every document as on SQLite: 600 documents scanned cost
# 3.8 ms of CPU there, 348 ms on SQLite) or sqlite (files in .run/mongo/data, nothing else
# needed). auto (the default): postgresql when the machine has PostgreSQL's server, else sqlite.
FERRETDB_BACKEND="${FERRETDB_BACKEND:-auto}"

ensure_ferretdb_bin() {
  local src="$HERE/ferretdb" want
  want="$(sha_of "$src/main.go" "$src/go.mod" "$src/go.sum")"
  if [[ -x "$FERRET_BIN" && -f "$FERRET_BIN.stamp" && "$(cat "$FERRET_BIN.stamp")" == "$want" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "go not found: run deploy/local/bootstrap.sh"
  say "building FerretDB into $FERRET_BIN (first run: ~2 min on 2 cores)"
  mkdir -p "$CACHE/bin"
  local t0=$SECONDS
  if ! (cd "$src" && GOMODCACHE="$CACHE/go-mod" GOCACHE="$CACHE/go-build" GOFLAGS=-mod=mod \
    CGO_ENABLED=0 go build -trimpath -o "$FERRET_BIN.tmp" .) >"$CACHE/ferretdb-build.log" 2>&1; then
    tail -n 30 "$CACHE/ferretdb-build.log" >&2 || true
    die "FerretDB build failed (full log: $CACHE/ferretdb-build.log)"
  fi
  mv "$FERRET_BIN.tmp" "$FERRET_BIN"
  echo "$want" >"$FERRET_BIN.stamp"
  say "FerretDB built ($((SECONDS - t0))s)"
}

start_mongo() {
  if [[ -n "${MONGO_URI:-}" ]]; then
    say "mongo: MONGO_URI is set, not starting FerretDB"
    return 0
  fi
  local pid
  if pid="$(pid_of "$MONGO_PID" connectflo-ferretdb)"; then
    say "mongo: already running (pid $pid) on 127.0.0.1:$MONGO_PORT"
    return 0
  fi
  if port_open "$MONGO_PORT"; then
    die "port 127.0.0.1:$MONGO_PORT is in use by a process this script did not start" \
      "(set MONGO_URI to use it, or MONGO_PORT to pick another port)"
  fi
  ensure_ferretdb_bin
  mkdir -p "$MONGO_DIR/data"
  local storage=()
  if [[ "$FERRETDB_BACKEND" == auto ]]; then
    FERRETDB_BACKEND=sqlite
    # (as root, the server runs as `postgres`; postgres.sh puts its cluster where it can)
    if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
      FERRETDB_BACKEND=postgresql
    fi
  fi
  case "$FERRETDB_BACKEND" in
    sqlite) ;;
    postgresql)
      start_postgres
      # A pool of 250 (FerretDB's default is 50): FerretDB 1.24 takes its metadata lock while
      # holding a connection (an upsert's insert inside its transaction) and holds the lock
      # while waiting for one (creating a collection); with every connection taken that waits
      # forever. Measured: the whole server hung under the bench's parking of conversations,
      # and in e2e runs (SQLite too: its pool is 100). An update holds one connection for
      # its query and waits for another to write, so the services hold at most
      # MONGO_MAX_POOL_SIZE (8) connections each (servicekit.settings).
      storage=(-postgresql-url "postgres://postgres@127.0.0.1:$PG_PORT/ferretdb?pool_max_conns=250")
      ;;
    *) die "FERRETDB_BACKEND must be sqlite or postgresql, not '$FERRETDB_BACKEND'" ;;
  esac
  [[ -n "${FERRETDB_DEBUG_ADDR:-}" ]] && storage+=(-debug-addr "$FERRETDB_DEBUG_ADDR")
  say "mongo: starting FerretDB ($FERRETDB_BACKEND) on 127.0.0.1:$MONGO_PORT (log $MONGO_LOG)"
  launch "$MONGO_LOG" "$MONGO_PID" \
    env GOGC="$FERRETDB_GOGC" "$FERRET_BIN" -listen "127.0.0.1:$MONGO_PORT" -data-dir "$MONGO_DIR/data" \
    -log-level "$FERRETDB_LOG_LEVEL" "${storage[@]}"
  echo "$MONGO_PORT" >"$MONGO_PORTFILE"
  wait_port mongo "$MONGO_PORT" "$(cat "$MONGO_PID")" "$MONGO_LOG" 30
  say "mongo: listening on 127.0.0.1:$MONGO_PORT (pid $(cat "$MONGO_PID"))"
}

check_mongo() {
  need_venv
  MONGO_URI="${MONGO_URI:-mongodb://127.0.0.1:$MONGO_PORT/}" \
    "$PY" "$HERE/mongo_check.py" ||
    die "mongo readiness check failed${MONGO_URI:+ on MONGO_URI}${MONGO_URI:-" (FerretDB log: $MONGO_LOG)"}"
}
