"""Where the bench runs: paths, addresses, ports, the services it starts."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from contracts.topics import ALL_TOPICS

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / ".run" / "bench"
INFRA = REPO / "deploy" / "local" / "infra.sh"
KAFKA_TOPICS = REPO / "deploy" / "local" / "kafka_topics.py"
LOCK = "/tmp/connectflo-e2e.lock"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
EXECUTIONS_TOPIC = "connectflo.executions.v1"
PARTITIONS = {spec.name: spec.partitions for spec in ALL_TOPICS}  # every connectflo.* topic
PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "28080"))
ADMIN_TOKEN = "bench-" + secrets.token_hex(8)
CLK_TCK = os.sysconf("SC_CLK_TCK")

# name: (module, env prefix, port offset); started in this order, the gateway last.
SERVICES = {
    "executor": ("executor", "EXECUTOR", 1),
    "notifier": ("notifier", "NOTIFIER", 4),
    "scheduler": ("scheduler", "SCHEDULER", 2),
    "integrations": ("integrations", "INTEGRATIONS", 3),
    "gateway": ("trigger_gateway", "GATEWAY", 0),
}
