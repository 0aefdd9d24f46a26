"""Where the bench runs: paths, addresses, ports, the services it starts."""

from __future__ import annotations

import csv
import os
import secrets
from pathlib import Path
from typing import NamedTuple

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


class Service(NamedTuple):
    module: str
    prefix: str  # of its environment variables
    offset: int  # its port: PORT_BASE + offset
    group: str | None  # its consumer group in a bench run
    listed_as: str  # its name in deploy/services.tsv (and .run/services/<name>.pid)


def service_table() -> dict[str, Service]:
    """deploy/services.tsv (tab-separated, a header line, # comments), in its start order (the
    consumers first, the gateway last), with the bench's ports and groups. The bench names a
    service by its env prefix (gateway, not trigger-gateway), as its reports always have."""
    with (REPO / "deploy" / "services.tsv").open(newline="") as table:
        rows = list(
            csv.DictReader((line for line in table if not line.startswith("#")), delimiter="\t")
        )
    lowest = min(int(row["port"]) for row in rows)
    return {
        row["env_prefix"].lower(): Service(
            module=row["module"],
            prefix=row["env_prefix"],
            offset=int(row["port"]) - lowest,
            group=None if row["group"] == "-" else row["group"] + "-bench",
            listed_as=row["name"],
        )
        for row in rows
    }


SERVICES = service_table()
