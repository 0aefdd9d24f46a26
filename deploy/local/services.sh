#!/usr/bin/env bash
# Run the five ConnectFlo services and the provider sandbox locally, each as its own OS process
# from the workspace venv.
#
# Usage: deploy/local/services.sh start|stop|restart|status|logs [-f] [SERVICE...]
#   SERVICE: a name in deploy/services.tsv (default: all of them, in its order)
#   start    `.venv/bin/python -m <module>` in the background (no-op when running), then waits for
#            GET http://127.0.0.1:<port>/readyz answering 200 (MongoDB and Kafka reachable, every
#            consumer has its partitions; 60s; on failure the log tail, exit 1), then until
#            the consumer groups of those it started are Stable with all their members
#            (kafka_topics.py --wait-groups), so the first trigger does not wait for a rebalance
#   stop     SIGTERM, up to 20s, then SIGKILL; fine when already stopped
#   status   one line per service: running/stopped, pid, address, /healthz and /readyz (exit 3 if
#            one is not alive or not ready)
#   logs     tail the log(s); -f follows
#
# Each service's module, port (<ENV_PREFIX>_PORT overrides it), consumer group (<ENV_PREFIX>_GROUP_ID
# overrides it) and number of group members come from deploy/services.tsv (printed below).
# The environment is passed through (KAFKA_BOOTSTRAP_SERVERS, MONGO_URI, ...); the port variable is
# exported so the service and this script agree. Start Kafka and Mongo first: infra.sh start.
# State: .run/services/<name>.pid and .run/services/<name>.log.
# SERVICES_PYTHON overrides the interpreter (default .venv/bin/python), SERVICES_START_TIMEOUT the
# 60s health wait.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || true)"
if [[ -z "$REPO" || ! -f "$REPO/deploy/local/services.sh" ]]; then
  REPO="$(cd "$HERE/../.." && pwd)"
fi
PY="${SERVICES_PYTHON:-$REPO/.venv/bin/python}"
STATE="$REPO/.run/services"
START_TIMEOUT="${SERVICES_START_TIMEOUT:-60}"

TABLE="$REPO/deploy/services.tsv"

# The service table: name module port env_prefix group members, tab-separated, a header line.
ALL=()
declare -A MODULE=() PORT_VAR=() DEFAULT_PORT=() GROUP=()
header=1
while IFS=$'\t' read -r name module port prefix group members; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  if ((header)); then header=0 && continue; fi
  ALL+=("$name")
  MODULE[$name]="$module"
  PORT_VAR[$name]="${prefix}_PORT"
  DEFAULT_PORT[$name]="$port"
  # group:members of a consuming service, the form kafka_topics.py --wait-groups takes
  if [[ "$group" != - ]]; then
    group_var="${prefix}_GROUP_ID"
    GROUP[$name]="${!group_var:-$group}:$members"
  fi
done <"$TABLE"

say() { printf 'services: %s\n' "$*"; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

port_of() { local v="${PORT_VAR[$1]}"; echo "${!v:-${DEFAULT_PORT[$1]}}"; }
pidfile() { echo "$STATE/$1.pid"; }
logfile() { echo "$STATE/$1.log"; }

# pid_of SERVICE: the pid if alive and really `python -m <module>` (not a recycled pid).
pid_of() {
  local f pid
  f="$(pidfile "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- " -m ${MODULE[$1]} " || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

healthy() {
  "$PY" - "http://127.0.0.1:$1/${2:-readyz}" <<'EOF' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.exit(0 if 200 <= r.status < 300 else 1)
except Exception:
    sys.exit(1)
EOF
}

launch() {
  local name="$1" port var
  port="$(port_of "$name")"
  var="${PORT_VAR[$name]}"
  if pid="$(pid_of "$name")"; then
    say "$name: already running (pid $pid) on 127.0.0.1:$port"
    return 0
  fi
  if port_open "$port"; then
    say "$name: port 127.0.0.1:$port is in use by a process this script did not start (set $var)" >&2
    return 1
  fi
  # Own session, no stdin, no inherited descriptor (a lock held by a caller would otherwise
  # be held for the service's whole life): survives the calling shell.
  (
    cd "$REPO"
    export "$var=$port" PYTHONUNBUFFERED=1
    for fd in /proc/$BASHPID/fd/*; do
      fd="${fd##*/}"
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid nohup "$PY" -m "${MODULE[$name]}" >>"$(logfile "$name")" 2>&1 </dev/null
  ) &
  echo $! >"$(pidfile "$name")"
  STARTED+=("$name")
  say "$name: starting python -m ${MODULE[$name]} on 127.0.0.1:$port (log $(logfile "$name"))"
}

wait_healthy() {
  local name="$1" port pid t0=$SECONDS
  port="$(port_of "$name")"
  pid="$(cat "$(pidfile "$name")")"
  while ! healthy "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited during start; last lines of $(logfile "$name"):" >&2
      tail -n 40 "$(logfile "$name")" >&2 || true
      return 1
    fi
    if ((SECONDS - t0 >= START_TIMEOUT)); then
      say "$name: no 2xx from http://127.0.0.1:$port/readyz after ${START_TIMEOUT}s (pid $pid still running); last lines of $(logfile "$name"):" >&2
      tail -n 40 "$(logfile "$name")" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  say "$name: ready on http://127.0.0.1:$port (pid $pid, $((SECONDS - t0))s)"
}

stop_all() {
  local name pid i
  local -a pids=() names=()
  for name in "$@"; do
    if pid="$(pid_of "$name")"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    else
      rm -f "$(pidfile "$name")"
      say "$name: not running"
    fi
  done
  for ((i = 0; i < 200; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    pid="${pids[$i]}"
    name="${names[$i]}"
    if kill -0 "$pid" 2>/dev/null; then
      say "$name: pid $pid still running after 20s, sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pidfile "$name")"
    say "$name: stopped (pid $pid)"
  done
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  echo
  grep -v '^#' "$TABLE" | expand -t 17,34,40,54,79 | sed 's/^/  /'
  exit 2
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
follow=""
if [[ "${1:-}" == "-f" || "${1:-}" == "--follow" ]]; then
  follow="-f"
  shift
fi
if [[ $# -eq 0 ]]; then
  targets=("${ALL[@]}")
else
  targets=()
  for s in "$@"; do
    [[ -n "${MODULE[$s]:-}" ]] || { say "unknown service '$s' (one of: ${ALL[*]})" >&2; usage; }
    targets+=("$s")
  done
fi

mkdir -p "$STATE"
lock() {
  exec 9>"$STATE/.lock"
  flock -w 120 9 || die "another services.sh holds $STATE/.lock"
}

case "$cmd" in
  start)
    [[ -x "$PY" ]] || die "$PY not found: run deploy/local/bootstrap.sh first"
    lock
    # Sealed secrets need a KEK (servicekit.sealing): unless one is configured, a key file made
    # once under .run/ (mode 0600), the same for every service.
    if [[ -z "${CONNECTFLO_KEKS:-}" && -z "${CONNECTFLO_KEK_FILE:-}" ]]; then
      export CONNECTFLO_KEK_FILE="$REPO/.run/dev-keks"
      "$PY" -m servicekit.sealing dev-key-file "$CONNECTFLO_KEK_FILE" >/dev/null
    fi
    # The notifier sends SMS and WhatsApp through the sandbox and has Twilio report their status
    # to this gateway (production: Twilio's own API, the gateway's public URL).
    export NOTIFIER_TWILIO_API_BASE_URL="${NOTIFIER_TWILIO_API_BASE_URL:-http://127.0.0.1:$(port_of sandbox)}"
    # Slack's Web API and Teams' incoming webhooks are the sandbox's too (production: unset,
    # https://slack.com/api/; Teams webhook URLs are the tenants').
    export NOTIFIER_SLACK_API_BASE_URL="${NOTIFIER_SLACK_API_BASE_URL:-http://127.0.0.1:$(port_of sandbox)/api/}"
    # ... and email through the sandbox's SendGrid (production: https://api.sendgrid.com).
    export NOTIFIER_SENDGRID_API_BASE_URL="${NOTIFIER_SENDGRID_API_BASE_URL:-http://127.0.0.1:$(port_of sandbox)}"
    # AI Generate and embeddings go to the sandbox's OpenAI unless a connection names its own
    # base_url (production: unset, https://api.openai.com/v1 with the tenant's key).
    export OPENAI_BASE_URL="${OPENAI_BASE_URL:-http://127.0.0.1:$(port_of sandbox)/openai/v1}"
    # The gateway asks the integrations service to "check connection".
    export GATEWAY_INTEGRATIONS_URL="${GATEWAY_INTEGRATIONS_URL:-http://127.0.0.1:$(port_of integrations)}"
    # The executor asks it to classify messages for tenants on the openai engine.
    export EXECUTOR_INTEGRATIONS_URL="${EXECUTOR_INTEGRATIONS_URL:-http://127.0.0.1:$(port_of integrations)}"
    gateway_url="${GATEWAY_PUBLIC_URL:-http://127.0.0.1:$(port_of trigger-gateway)}"
    export NOTIFIER_STATUS_CALLBACK_URL="${NOTIFIER_STATUS_CALLBACK_URL:-$gateway_url/webhooks/twilio/status}"
    # Tenants' webhooks may point at this machine (a receiver on 127.0.0.1); production keeps
    # the SSRF guard on (docs/architecture.md, *Tenant webhooks*).
    export WEBHOOK_ALLOW_PRIVATE_URLS="${WEBHOOK_ALLOW_PRIVATE_URLS:-true}"
    STARTED=()
    rc=0
    for s in "${targets[@]}"; do launch "$s" || rc=1; done
    for s in "${STARTED[@]}"; do wait_healthy "$s" || rc=1; done
    ((rc == 0)) || die "some services did not start (the others keep running; '$0 stop' ends them)"
    # Healthy is not yet consuming: wait until their consumer groups have settled, so the first
    # trigger is not held up by a rebalance.
    groups=()
    for s in "${STARTED[@]}"; do [[ -n "${GROUP[$s]:-}" ]] && groups+=("${GROUP[$s]}"); done
    if ((${#groups[@]})); then
      "$PY" "$HERE/kafka_topics.py" --wait-groups "$(IFS=,; echo "${groups[*]}")" \
        --timeout "$START_TIMEOUT" || die "the services run, but their consumer groups did not settle"
    fi
    ;;
  stop)
    lock
    stop_all "${targets[@]}"
    ;;
  restart)
    "$0" stop "${targets[@]}"
    exec "$0" start "${targets[@]}"
    ;;
  status)
    rc=0
    for s in "${targets[@]}"; do
      port="$(port_of "$s")"
      if pid="$(pid_of "$s")"; then
        if ! healthy "$port" healthz; then h="NOT alive"; rc=3
        elif healthy "$port" readyz; then h="alive, ready"
        else h="alive, NOT ready"; rc=3; fi
        printf '%-16s running   pid %-8s 127.0.0.1:%-6s %s\n' "$s" "$pid" "$port" "$h"
      else
        printf '%-16s stopped   127.0.0.1:%s\n' "$s" "$port"
        rc=3
      fi
    done
    exit "$rc"
    ;;
  logs)
    files=()
    for s in "${targets[@]}"; do [[ -f "$(logfile "$s")" ]] && files+=("$(logfile "$s")"); done
    ((${#files[@]})) || die "no log yet in $STATE"
    exec tail -n "${LOG_LINES:-100}" $follow "${files[@]}"
    ;;
  *) usage ;;
esac
