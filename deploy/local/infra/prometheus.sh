# shellcheck shell=bash
# Sourced by infra.sh: Prometheus (Debian's package, installed by bootstrap.sh) on 127.0.0.1:9090,
# scraping the five services and evaluating deploy/prometheus/alerts.yml.
# Needs REPO, RUN, say/die and infra/processes.sh.
#
# One scrape job per service (the names of deploy/services.tsv); each job's targets are files in
# .run/prometheus/targets/<service>.*.json (file_sd, re-read when they change): infra.sh writes
# <service>.local.json (the `make up` ports, label stack=local) and the end-to-end session its own
# <service>.e2e.json (its ports, stack=e2e, scraped every second) while its stack runs.

PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
PROMETHEUS_BIN="${PROMETHEUS_BIN:-$(command -v prometheus || echo /usr/bin/prometheus)}"
PROMETHEUS_DIR="$RUN/prometheus"
PROMETHEUS_PID="$PROMETHEUS_DIR/prometheus.pid"
PROMETHEUS_LOG="$PROMETHEUS_DIR/prometheus.log"
PROMETHEUS_PORTFILE="$PROMETHEUS_DIR/prometheus.port"
PROMETHEUS_CONFIG="$PROMETHEUS_DIR/prometheus.yml"
PROMETHEUS_TARGETS="$PROMETHEUS_DIR/targets"
PROMETHEUS_RULES="$REPO/deploy/prometheus/alerts.yml"
PROMETHEUS_MARKER="prometheus --config.file="

# The services' names and default ports from deploy/services.tsv (the sandbox has no /metrics).
prometheus_services() {
  grep -v '^#' "$REPO/deploy/services.tsv" | awk -F'\t' 'NR > 1 && $1 != "sandbox" { print $1 "\t" $3 "\t" $4 }'
}

write_prometheus_config() {
  local name port prefix var
  mkdir -p "$PROMETHEUS_TARGETS" "$PROMETHEUS_DIR/data"
  {
    echo "# Written by deploy/local/infra.sh at every start: edits are lost."
    echo "global:"
    echo "  scrape_interval: 15s"
    echo "  evaluation_interval: 5s"
    echo "rule_files:"
    echo "  - $PROMETHEUS_RULES"
    echo "scrape_configs:"
    echo "  - job_name: prometheus"
    echo "    static_configs:"
    echo "      - targets: [\"127.0.0.1:$PROMETHEUS_PORT\"]"
    while IFS=$'\t' read -r name port prefix; do
      echo "  - job_name: $name"
      echo "    metrics_path: /metrics"
      echo "    file_sd_configs:"
      echo "      - files: [\"$PROMETHEUS_TARGETS/$name.*.json\"]"
    done < <(prometheus_services)
  } >"$PROMETHEUS_CONFIG.tmp"
  mv "$PROMETHEUS_CONFIG.tmp" "$PROMETHEUS_CONFIG"
  # The `make up` stack: the ports services.sh gives them (<PREFIX>_PORT overrides the table's).
  while IFS=$'\t' read -r name port prefix; do
    var="${prefix}_PORT"
    printf '[{"targets": ["127.0.0.1:%s"], "labels": {"stack": "local"}}]\n' "${!var:-$port}" \
      >"$PROMETHEUS_TARGETS/$name.local.json"
  done < <(prometheus_services)
}

prometheus_answers() {
  "$PY" - "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" <<'PYEOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=3) as answer:
    sys.exit(0 if answer.status == 200 and b"Prometheus" in answer.read() else 1)
PYEOF
}

start_prometheus() {
  if pid_of "$PROMETHEUS_PID" "$PROMETHEUS_MARKER" >/dev/null; then
    say "prometheus: already running on http://127.0.0.1:$PROMETHEUS_PORT"
    return 0
  fi
  if port_open "$PROMETHEUS_PORT"; then
    # Another checkout's (a git worktree's): its targets directory is where the end-to-end
    # session writes its own (tests-e2e/conftest.py reads it from that Prometheus' config).
    prometheus_answers && say "prometheus: one not started from here answers on http://127.0.0.1:$PROMETHEUS_PORT: using it" && return 0
    die "port $PROMETHEUS_PORT is taken (PROMETHEUS_PORT chooses another)"
  fi
  [[ -x "$PROMETHEUS_BIN" ]] || die "prometheus not found: run deploy/local/bootstrap.sh (Debian package prometheus)"
  write_prometheus_config
  if command -v promtool >/dev/null; then
    promtool check config --syntax-only "$PROMETHEUS_CONFIG" >/dev/null ||
      die "promtool check config $PROMETHEUS_CONFIG failed"
  fi
  launch "$PROMETHEUS_LOG" "$PROMETHEUS_PID" "$PROMETHEUS_BIN" \
    --config.file="$PROMETHEUS_CONFIG" \
    --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time=3d \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --log.level=warn
  echo "$PROMETHEUS_PORT" >"$PROMETHEUS_PORTFILE"
  wait_port prometheus "$PROMETHEUS_PORT" "$(cat "$PROMETHEUS_PID")" "$PROMETHEUS_LOG" 30
  say "prometheus: running on http://127.0.0.1:$PROMETHEUS_PORT"
}

check_prometheus() {
  local url="http://127.0.0.1:$PROMETHEUS_PORT"
  if ! "$PY" - "$url" <<'PYEOF'
import json, sys, time, urllib.request
deadline = time.monotonic() + 30
while True:  # ready once the TSDB is open; the rules are loaded with the config
    try:
        with urllib.request.urlopen(sys.argv[1] + "/-/ready", timeout=5) as answer:
            if answer.status == 200:
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("not ready after 30s")
    time.sleep(0.2)
with urllib.request.urlopen(sys.argv[1] + "/api/v1/rules?type=alert", timeout=5) as answer:
    groups = json.load(answer)["data"]["groups"]
if not groups:
    sys.exit("no alert rules loaded")
PYEOF
  then
    die "prometheus at $url is not ready or loaded no alert rules (log: $PROMETHEUS_LOG)"
  fi
  say "prometheus_check: $url is ready, alert rules of $PROMETHEUS_RULES loaded"
}
