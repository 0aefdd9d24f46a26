# shellcheck shell=bash
# Sourced by infra.sh: Apache Kafka 4.1, a single KRaft node, jars resolved from Maven Central.
# Needs HERE, CACHE, RUN, PY, say/die and infra/processes.sh.

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_VERSIONS=("${KAFKA_VERSION:-4.1.1}" 4.1.2 4.1.0)

KAFKA_LIBS="$CACHE/kafka-libs"
KAFKA_DIR="$RUN/kafka"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_PORTFILE="$KAFKA_DIR/kafka.port"

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
  mkdir -p "$CACHE"
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

check_kafka() {
  need_venv
  KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}" \
    "$PY" "$HERE/kafka_topics.py" ||
    die "kafka readiness check failed${KAFKA_BOOTSTRAP_SERVERS:+ on KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS}${KAFKA_BOOTSTRAP_SERVERS:-" (broker log: $KAFKA_LOG)"}"
}
