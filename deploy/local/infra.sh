#!/usr/bin/env bash
# Local real infrastructure for the ConnectFlo Flow Engine (no Docker):
#   kafka  Apache Kafka 4.1 single node (KRaft), jars resolved from Maven Central, run on Java 17+
#   mongo  FerretDB 1.24 (MongoDB wire protocol), built from Go modules, storing in a PostgreSQL
#          cluster of its own (the machine's PostgreSQL server) or in SQLite files (FERRETDB_BACKEND)
#   stripe stripe-mock (Stripe's official API mock), built from its Go module, on 127.0.0.1:12111
#   prometheus  Prometheus (Debian's package, bootstrap.sh), on 127.0.0.1:9090: a scrape job per
#          service (deploy/services.tsv), the alert rules of deploy/prometheus/alerts.yml
#
# Usage: deploy/local/infra.sh start|stop|restart|status|check|fetch|logs [-f] [kafka|mongo|stripe|prometheus]
#   start    fetch/build if needed, start (no-op when running), then the readiness checks
#   stop     SIGTERM, up to 20s, then SIGKILL; fine when already stopped
#   status   one line per component: running/stopped/external, pid, address (exit 3 if one is stopped)
#   check    only the readiness checks (topics + Kafka round trip, Mongo round trip, Prometheus
#            ready with its rules)
#   fetch    only resolve the Kafka jars and build FerretDB into .cache (nothing is started)
#   logs     tail the log(s); -f follows
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS  use this Kafka instead of starting one (checks still run against it)
#   MONGO_URI                use this MongoDB instead of starting FerretDB (checks still run)
#   STRIPE_MOCK_URL          use this stripe-mock instead of starting one; STRIPE_MOCK_PORT (12111)
#   PROMETHEUS_PORT (9090)   Prometheus' listen port; PROMETHEUS_BIN (the prometheus on PATH)
#   KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), MONGO_PORT (27017)   local listen ports
#   KAFKA_HEAP (512m)        broker heap (-Xms = -Xmx)
#   FERRETDB_LOG_LEVEL (warn) debug|info|warn|error
#   FERRETDB_GOGC (400)      FerretDB's Go GC target: memory is plentiful here, its CPU is not
#   FERRETDB_DEBUG_ADDR      serve Go's profiler there (e.g. 127.0.0.1:8089/debug/pprof/)
#   FERRETDB_PG_STATEMENTS=1 pg_stat_statements in FerretDB's PostgreSQL (which queries cost what)
#   FERRETDB_BACKEND (auto)  postgresql | sqlite | auto (postgresql when the machine has it)
#   FERRETDB_PG_PORT (54329) the PostgreSQL cluster under FerretDB (127.0.0.1, socket in .run/postgres)
#   INFRA_SKIP_CHECKS=1      start without the readiness checks (topics are then NOT created)
#
# Caches (reused between runs, git-ignored): .cache/m2, .cache/kafka-libs, .cache/go-mod,
# .cache/go-build, .cache/bin. Runtime state: .run/kafka, .run/mongo, .run/postgres, .run/stripe,
# .run/prometheus (config, targets, data).
set -euo pipefail
# The parts, each sourced below: infra/processes.sh (pid files, ports, detached servers),
# infra/kafka.sh, infra/ferretdb.sh and infra/postgres.sh (FerretDB's storage).

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || true)"
if [[ -z "$REPO" || ! -f "$REPO/deploy/local/infra.sh" ]]; then
  REPO="$(cd "$HERE/../.." && pwd)"
fi

CACHE="$REPO/.cache"
RUN="$REPO/.run"
PY="$REPO/.venv/bin/python"

say() { printf 'infra: %s\n' "$*"; }
die() { printf 'infra: ERROR: %s\n' "$*" >&2; exit 1; }

need_venv() {
  [[ -x "$PY" ]] || die "$PY not found: run deploy/local/bootstrap.sh (uv sync) first"
}

# shellcheck source=infra/processes.sh
source "$HERE/infra/processes.sh"
# shellcheck source=infra/kafka.sh
source "$HERE/infra/kafka.sh"
# shellcheck source=infra/postgres.sh
source "$HERE/infra/postgres.sh"
# shellcheck source=infra/ferretdb.sh
source "$HERE/infra/ferretdb.sh"
# shellcheck source=infra/stripe-mock.sh
source "$HERE/infra/stripe-mock.sh"
# shellcheck source=infra/prometheus.sh
source "$HERE/infra/prometheus.sh"

# ---------------------------------------------------------------------------------------------
# commands

status_one() {
  local name="$1" pidfile="$2" marker="$3" addr="$4" ext="$5" pid
  if [[ -n "$ext" ]]; then
    printf '%-10s external  %s\n' "$name" "$ext"
    return 0
  fi
  if pid="$(pid_of "$pidfile" "$marker")"; then
    if port_open "${addr##*:}"; then
      printf '%-10s running   pid %-8s %s\n' "$name" "$pid" "$addr"
    else
      printf '%-10s starting  pid %-8s %s (not accepting connections yet)\n' "$name" "$pid" "$addr"
    fi
    return 0
  fi
  printf '%-10s stopped   %s\n' "$name" "$addr"
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
adopt_running_port "$STRIPE_PID" stripe-mock "$STRIPE_PORTFILE" STRIPE_MOCK_PORT
adopt_running_port "$PROMETHEUS_PID" "$PROMETHEUS_MARKER" "$PROMETHEUS_PORTFILE" PROMETHEUS_PORT

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
  all) comps=(kafka mongo stripe prometheus) ;;
  kafka | mongo | stripe | prometheus) comps=("$what") ;;
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
        stripe) ensure_stripe_mock_bin ;;
        prometheus) ;; # a Debian package: bootstrap.sh installs it
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
        stripe) stop_pid stripe "$STRIPE_PID" stripe-mock ;;
        prometheus) stop_pid prometheus "$PROMETHEUS_PID" "$PROMETHEUS_MARKER" ;;
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
        stripe) status_one stripe "$STRIPE_PID" stripe-mock "127.0.0.1:$STRIPE_MOCK_PORT" \
          "${STRIPE_MOCK_URL:-}" || rc=3 ;;
        prometheus) status_one prometheus "$PROMETHEUS_PID" "$PROMETHEUS_MARKER" \
          "127.0.0.1:$PROMETHEUS_PORT" "" || rc=3 ;;
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
        stripe) files+=("$STRIPE_LOG") ;;
        prometheus) files+=("$PROMETHEUS_LOG") ;;
      esac
    done
    existing=()
    for f in "${files[@]}"; do [[ -f "$f" ]] && existing+=("$f"); done
    ((${#existing[@]})) || die "no log yet (${files[*]})"
    exec tail -n "${LOG_LINES:-100}" $follow "${existing[@]}"
    ;;
  *) usage ;;
esac
