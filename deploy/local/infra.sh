#!/usr/bin/env bash
# Local real infrastructure for the ConnectFlo Flow Engine (no Docker):
#   kafka  Apache Kafka 4.1 single node (KRaft), jars resolved from Maven Central, run on Java 17+
#   mongo  FerretDB 1.24 (MongoDB wire protocol), built from Go modules, storing in a PostgreSQL
#          cluster of its own (the machine's PostgreSQL server) or in SQLite files (FERRETDB_BACKEND)
#
# Usage: deploy/local/infra.sh start|stop|restart|status|check|fetch|logs [-f] [kafka|mongo]
#   start    fetch/build if needed, start (no-op when running), then the readiness checks
#   stop     SIGTERM, up to 20s, then SIGKILL; fine when already stopped
#   status   one line per component: running/stopped/external, pid, address (exit 3 if one is stopped)
#   check    only the readiness checks (topics + Kafka round trip, Mongo round trip)
#   fetch    only resolve the Kafka jars and build FerretDB into .cache (nothing is started)
#   logs     tail the log(s); -f follows
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS  use this Kafka instead of starting one (checks still run against it)
#   MONGO_URI                use this MongoDB instead of starting FerretDB (checks still run)
#   KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), MONGO_PORT (27017)   local listen ports
#   KAFKA_HEAP (512m)        broker heap (-Xms = -Xmx)
#   FERRETDB_LOG_LEVEL (warn) debug|info|warn|error
#   FERRETDB_GOGC (400)      FerretDB's Go GC target: memory is plentiful here, its CPU is not
#   FERRETDB_BACKEND (auto)  postgresql | sqlite | auto (postgresql when the machine has it)
#   FERRETDB_PG_PORT (54329) the PostgreSQL cluster under FerretDB (127.0.0.1, socket in .run/postgres)
#   INFRA_SKIP_CHECKS=1      start without the readiness checks (topics are then NOT created)
#
# Caches (reused between runs, git-ignored): .cache/m2, .cache/kafka-libs, .cache/go-mod,
# .cache/go-build, .cache/bin. Runtime state: .run/kafka, .run/mongo, .run/postgres.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || true)"
if [[ -z "$REPO" || ! -f "$REPO/deploy/local/infra.sh" ]]; then
  REPO="$(cd "$HERE/../.." && pwd)"
fi

CACHE="$REPO/.cache"
RUN="$REPO/.run"
PY="$REPO/.venv/bin/python"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
MONGO_PORT="${MONGO_PORT:-27017}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
FERRETDB_LOG_LEVEL="${FERRETDB_LOG_LEVEL:-warn}"
FERRETDB_GOGC="${FERRETDB_GOGC:-400}"
KAFKA_VERSIONS=("${KAFKA_VERSION:-4.1.1}" 4.1.2 4.1.0)

KAFKA_LIBS="$CACHE/kafka-libs"
KAFKA_DIR="$RUN/kafka"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_PORTFILE="$KAFKA_DIR/kafka.port"

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
PG_DIR="$RUN/postgres"
PG_PORT="${FERRETDB_PG_PORT:-54329}"

say() { printf 'infra: %s\n' "$*"; }
die() { printf 'infra: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# process helpers

# pid_of PIDFILE MARKER: print the pid if it is alive and its command line contains MARKER.
pid_of() {
  local pidfile="$1" marker="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port NAME PORT PID LOG TIMEOUT
wait_port() {
  local name="$1" port="$2" pid="$3" log="$4" timeout="$5" waited=0
  while ! port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited during start; last lines of $log:" >&2
      tail -n 40 "$log" >&2 || true
      die "$name did not start"
    fi
    if ((waited >= timeout * 5)); then
      say "$name not listening on 127.0.0.1:$port after ${timeout}s; last lines of $log:" >&2
      tail -n 40 "$log" >&2 || true
      die "$name did not start (still running as pid $pid; '$0 stop' ends it)"
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

# stop_pid NAME PIDFILE MARKER
stop_pid() {
  local name="$1" pidfile="$2" marker="$3" pid i
  if ! pid="$(pid_of "$pidfile" "$marker")"; then
    rm -f "$pidfile"
    say "$name: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name: pid $pid still running after 20s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  say "$name: stopped (pid $pid)"
}

# close_inherited_fds: close every descriptor above stderr in this (sub)shell.
close_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd="${fd##*/}"
    if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

# launch LOG PIDFILE CMD...: start CMD detached from this shell (own session, no stdin).
launch() {
  local log="$1" pidfile="$2"
  shift 2
  # setsid execs in place here (we are not a process-group leader), so $! is the server's pid.
  # The server inherits no descriptor but stdio: an inherited lock (.run/infra.lock, or the
  # callers' /tmp/connectflo-e2e.lock) would otherwise be held for the server's whole life.
  (
    close_inherited_fds
    exec setsid nohup "$@" >>"$log" 2>&1 </dev/null
  ) &
  echo $! >"$pidfile"
}

sha_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------------------------------------
# kafka

kafka_cp() { echo "$KAFKA_LIBS/*"; }

ensure_kafka_libs() {
  local pom="$HERE/kafka/pom.xml" stamp="$KAFKA_LIBS/.stamp" want v tmp
  want="$(sha_of "$pom")"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: run deploy/local/bootstrap.sh"
  say "resolving Kafka jars from Maven Central into $KAFKA_LIBS (first run: ~20s)"
  tmp="$KAFKA_LIBS.tmp.$$"
  local t0=$SECONDS
  for v in "${KAFKA_VERSIONS[@]}"; do
    rm -rf "$tmp"
    if mvn -B -q -f "$pom" -Dmaven.repo.local="$CACHE/m2" -Dkafka.version="$v" \
      -Dkafka.libs.dir="$tmp" package >"$CACHE/kafka-mvn.log" 2>&1; then
      echo "$want" >"$tmp/.stamp"
      echo "$v" >"$tmp/.kafka-version"
      rm -rf "$KAFKA_LIBS"
      mv "$tmp" "$KAFKA_LIBS"
      rm -rf "$HERE/kafka/target"
      local jars=("$KAFKA_LIBS"/*.jar)
      say "Kafka $v jars ready (${#jars[@]} jars, $((SECONDS - t0))s)"
      return 0
    fi
    say "Kafka $v could not be resolved (see $CACHE/kafka-mvn.log), trying the next 4.1.x"
  done
  rm -rf "$tmp"
  tail -n 30 "$CACHE/kafka-mvn.log" >&2 || true
  die "could not resolve Kafka ${KAFKA_VERSIONS[*]} from Maven Central"
}

check_java() {
  command -v java >/dev/null || die "java not found: run deploy/local/bootstrap.sh (needs Java 17+)"
  local v
  v="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [[ "${v%%.*}" =~ ^[0-9]+$ && "${v%%.*}" -ge 17 ]] || die "Kafka 4.x needs Java 17+, found '$v'"
}

write_server_properties() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by deploy/local/infra.sh on every start: edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=6
# Two cores for everything: fewer broker threads, less switching (defaults are 3 and 8).
num.network.threads=2
num.io.threads=2
EOF
}

format_kafka_storage() {
  [[ -f "$KAFKA_DIR/data/meta.properties" ]] && return 0
  local id
  if [[ -s "$KAFKA_DIR/cluster.id" ]]; then
    id="$(cat "$KAFKA_DIR/cluster.id")"
  else
    id="$(java -cp "$(kafka_cp)" kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" | tail -n 1)"
    [[ -n "$id" ]] || die "StorageTool random-uuid printed nothing (see $KAFKA_LOG)"
    echo "$id" >"$KAFKA_DIR/cluster.id"
  fi
  say "formatting Kafka storage (cluster id $id)"
  java -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" -cp "$(kafka_cp)" \
    kafka.tools.StorageTool format --standalone --ignore-formatted \
    -t "$id" -c "$KAFKA_DIR/server.properties" >>"$KAFKA_LOG" 2>&1 ||
    { tail -n 20 "$KAFKA_LOG" >&2; die "kafka storage format failed"; }
}

start_kafka() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    say "kafka: KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS is set, not starting a local broker"
    return 0
  fi
  local pid
  if pid="$(pid_of "$KAFKA_PID" kafka.Kafka)"; then
    say "kafka: already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    die "port 127.0.0.1:$KAFKA_PORT is in use by a process this script did not start" \
      "(set KAFKA_BOOTSTRAP_SERVERS to use it, or KAFKA_PORT to pick another port)"
  fi
  check_java
  ensure_kafka_libs
  mkdir -p "$KAFKA_DIR"
  write_server_properties
  format_kafka_storage
  say "kafka: starting on 127.0.0.1:$KAFKA_PORT (log $KAFKA_LOG)"
  launch "$KAFKA_LOG" "$KAFKA_PID" \
    java "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" \
    -cp "$(kafka_cp)" kafka.Kafka "$KAFKA_DIR/server.properties"
  echo "$KAFKA_PORT" >"$KAFKA_PORTFILE"
  wait_port kafka "$KAFKA_PORT" "$(cat "$KAFKA_PID")" "$KAFKA_LOG" 90
  say "kafka: listening on 127.0.0.1:$KAFKA_PORT (pid $(cat "$KAFKA_PID"))"
}

# ---------------------------------------------------------------------------------------------
# mongo (FerretDB)

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
    # Statistics target 10 and a 10 ms autovacuum cost delay: FerretDB's queries do not use the
    # column statistics (one jsonb column), and an ANALYZE over large execution documents, with
    # autovacuum's default pace, took a core's tenth for a minute after a burst of inserts.
    # In a subshell without our descriptors: the server outlives us and must not hold the lock.
    (
      close_inherited_fds
      as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 30 start \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c default_toast_compression=lz4 -c default_statistics_target=10 -c autovacuum_vacuum_cost_delay=10ms" </dev/null >/dev/null
    ) || die "PostgreSQL did not start (log: $PG_DIR/postgres.log)"
  fi
  as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atqc \
    "select 1 from pg_database where datname = 'ferretdb'" | grep -q 1 ||
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ferretdb
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
    # (as root, the server runs as `postgres`, which must be able to reach .run/)
    if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 &&
      { [[ "$(id -u)" != 0 ]] || runuser -u postgres -- test -w "$RUN" -o -x "$RUN" 2>/dev/null; }; then
      FERRETDB_BACKEND=postgresql
    fi
  fi
  case "$FERRETDB_BACKEND" in
    sqlite) ;;
    postgresql)
      start_postgres
      storage=(-postgresql-url "postgres://postgres@127.0.0.1:$PG_PORT/ferretdb")
      ;;
    *) die "FERRETDB_BACKEND must be sqlite or postgresql, not '$FERRETDB_BACKEND'" ;;
  esac
  say "mongo: starting FerretDB ($FERRETDB_BACKEND) on 127.0.0.1:$MONGO_PORT (log $MONGO_LOG)"
  launch "$MONGO_LOG" "$MONGO_PID" \
    env GOGC="$FERRETDB_GOGC" "$FERRET_BIN" -listen "127.0.0.1:$MONGO_PORT" -data-dir "$MONGO_DIR/data" \
    -log-level "$FERRETDB_LOG_LEVEL" "${storage[@]}"
  echo "$MONGO_PORT" >"$MONGO_PORTFILE"
  wait_port mongo "$MONGO_PORT" "$(cat "$MONGO_PID")" "$MONGO_LOG" 30
  say "mongo: listening on 127.0.0.1:$MONGO_PORT (pid $(cat "$MONGO_PID"))"
}

# ---------------------------------------------------------------------------------------------
# readiness checks

need_venv() {
  [[ -x "$PY" ]] || die "$PY not found: run deploy/local/bootstrap.sh (uv sync) first"
}

check_kafka() {
  need_venv
  KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}" \
    "$PY" "$HERE/kafka_topics.py" ||
    die "kafka readiness check failed${KAFKA_BOOTSTRAP_SERVERS:+ on KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS}${KAFKA_BOOTSTRAP_SERVERS:-" (broker log: $KAFKA_LOG)"}"
}

check_mongo() {
  need_venv
  MONGO_URI="${MONGO_URI:-mongodb://127.0.0.1:$MONGO_PORT/}" \
    "$PY" "$HERE/mongo_check.py" ||
    die "mongo readiness check failed${MONGO_URI:+ on MONGO_URI}${MONGO_URI:-" (FerretDB log: $MONGO_LOG)"}"
}

# ---------------------------------------------------------------------------------------------
# commands

status_one() {
  local name="$1" pidfile="$2" marker="$3" addr="$4" ext="$5" pid
  if [[ -n "$ext" ]]; then
    printf '%-6s external  %s\n' "$name" "$ext"
    return 0
  fi
  if pid="$(pid_of "$pidfile" "$marker")"; then
    if port_open "${addr##*:}"; then
      printf '%-6s running   pid %-8s %s\n' "$name" "$pid" "$addr"
    else
      printf '%-6s starting  pid %-8s %s (not accepting connections yet)\n' "$name" "$pid" "$addr"
    fi
    return 0
  fi
  printf '%-6s stopped   %s\n' "$name" "$addr"
  return 3
}

# A component that is already running keeps the port it was started with (recorded at start):
# status, checks and "already running" then talk about that port, whatever KAFKA_PORT/MONGO_PORT say.
adopt_running_port() { # PIDFILE MARKER PORTFILE VAR
  local p
  pid_of "$1" "$2" >/dev/null || return 0
  [[ -s "$3" ]] || return 0
  p="$(cat "$3")"
  [[ "$p" =~ ^[0-9]+$ ]] && printf -v "$4" '%s' "$p"
}
adopt_running_port "$KAFKA_PID" kafka.Kafka "$KAFKA_PORTFILE" KAFKA_PORT
adopt_running_port "$MONGO_PID" connectflo-ferretdb "$MONGO_PORTFILE" MONGO_PORT

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
follow=""
if [[ "${1:-}" == "-f" || "${1:-}" == "--follow" ]]; then
  follow="-f"
  shift
fi
what="${1:-all}"
case "$what" in
  all) comps=(kafka mongo) ;;
  kafka | mongo) comps=("$what") ;;
  *) usage ;;
esac

mkdir -p "$RUN"
lock() {
  # One start/stop at a time (several test sessions may call start concurrently).
  exec 9>"$RUN/infra.lock"
  flock -w 300 9 || die "another infra.sh holds $RUN/infra.lock"
}

case "$cmd" in
  start)
    lock
    for c in "${comps[@]}"; do "start_$c"; done
    if [[ "${INFRA_SKIP_CHECKS:-}" != 1 ]]; then
      for c in "${comps[@]}"; do "check_$c"; done
    fi
    ;;
  fetch)
    # Download/build only (no start): Kafka jars and the FerretDB binary, into .cache.
    lock
    for c in "${comps[@]}"; do
      case "$c" in
        kafka) check_java && ensure_kafka_libs ;;
        mongo) ensure_ferretdb_bin ;;
      esac
    done
    ;;
  check)
    for c in "${comps[@]}"; do "check_$c"; done
    ;;
  stop)
    lock
    for c in "${comps[@]}"; do
      case "$c" in
        kafka) stop_pid kafka "$KAFKA_PID" kafka.Kafka ;;
        mongo) stop_pid mongo "$MONGO_PID" connectflo-ferretdb && stop_postgres ;;
      esac
    done
    ;;
  restart)
    "$0" stop "$what"
    exec "$0" start "$what"
    ;;
  status)
    rc=0
    for c in "${comps[@]}"; do
      case "$c" in
        kafka) status_one kafka "$KAFKA_PID" kafka.Kafka "127.0.0.1:$KAFKA_PORT" \
          "${KAFKA_BOOTSTRAP_SERVERS:-}" || rc=3 ;;
        mongo) status_one mongo "$MONGO_PID" connectflo-ferretdb "127.0.0.1:$MONGO_PORT" \
          "${MONGO_URI:+MONGO_URI is set}" || rc=3 ;;
      esac
    done
    exit "$rc"
    ;;
  logs)
    files=()
    for c in "${comps[@]}"; do
      case "$c" in
        kafka) files+=("$KAFKA_LOG") ;;
        mongo) files+=("$MONGO_LOG") ;;
      esac
    done
    existing=()
    for f in "${files[@]}"; do [[ -f "$f" ]] && existing+=("$f"); done
    ((${#existing[@]})) || die "no log yet (${files[*]})"
    exec tail -n "${LOG_LINES:-100}" $follow "${existing[@]}"
    ;;
  *) usage ;;
esac
