"""Create the Kafka topics with their partition counts: the broker never auto-creates them.

A missing topic is created; an existing one with fewer partitions is grown; one with more is
left alone (Kafka cannot shrink a topic). Used by ``deploy/local/kafka_topics.py`` and by the
Helm chart's topics Job, which passes the chart's list (``deploy/helm/connectflo``, values
``kafka.topics``, checked against ``contracts.topics.ALL_TOPICS`` by its tests)::

    python -m servicekit.topics --replication-factor 3 \\
        connectflo.triggers.v1:6 connectflo.executions.commands.v1:6 ...

Without topic arguments it creates ``contracts.topics.ALL_TOPICS``. Bootstrap servers come from
``KAFKA_BOOTSTRAP_SERVERS`` (default ``127.0.0.1:9092``). Exit status 0, or 1 with a message.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, for_code
from contracts.topics import ALL_TOPICS, TopicSpec

TOPIC_ALREADY_EXISTS = 36


def log(msg: str) -> None:
    print(f"kafka_topics: {msg}", flush=True)


class CheckFailed(Exception):
    """A failure worth a one-line message, not a traceback."""


async def start_admin(bootstrap: str, deadline: float) -> Any:
    """An admin client connected to a cluster that has a controller, retrying while the
    broker is still coming up (until the ``time.monotonic()`` deadline)."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="connectflo-kafka-topics",
            request_timeout_ms=15000,
        )
        try:
            await admin.start()
            # A broker that accepts connections may not have a controller yet: wait for metadata.
            meta = await admin.describe_cluster()
            if meta.get("brokers") and meta.get("controller_id", -1) not in (-1, None):
                return admin
            last = CheckFailed(f"cluster has no controller yet: {meta}")
        except (KafkaError, OSError) as exc:
            last = exc
        await admin.close()
        await asyncio.sleep(1)
    raise CheckFailed(f"cannot reach Kafka at {bootstrap}: {last!r}")


async def partition_counts(
    admin: Any, names: Sequence[str], *, with_leader: bool = False
) -> dict[str, int]:
    """Partition count of each existing topic among ``names`` (missing topics are absent).

    With ``with_leader``, count only the partitions that already have a leader.
    """
    counts: dict[str, int] = {}
    for t in await admin.describe_topics(list(names)):
        if t["error_code"] == 0:
            parts = t["partitions"]
            if with_leader:
                parts = [p for p in parts if p["error_code"] == 0 and p["leader"] >= 0]
            counts[t["topic"]] = len(parts)
    return counts


async def ensure_topics(
    admin: Any,
    specs: Sequence[TopicSpec],
    configs: Mapping[str, Mapping[str, str]],
    *,
    replication_factor: int = 1,
) -> None:
    """Create the missing topics, grow those with fewer partitions, then wait until every
    partition has a leader (so the first produce does not hit NotLeaderForPartition)."""
    names = [s.name for s in specs]
    existing = await partition_counts(admin, names)
    missing = [s for s in specs if s.name not in existing]
    if missing:
        resp = await admin.create_topics(
            [
                NewTopic(
                    s.name,
                    s.partitions,
                    replication_factor,
                    topic_configs=dict(configs.get(s.name, {})),
                )
                for s in missing
            ],
            timeout_ms=30000,
        )
        for err in resp.topic_errors:
            topic, code = err[0], err[1]
            message = err[2] if len(err) > 2 else ""
            if code == 0:
                log(f"created {topic}")
            elif code != TOPIC_ALREADY_EXISTS:  # a concurrent run created it: fine
                raise CheckFailed(f"cannot create {topic}: {for_code(code).__name__} {message}")

    grow = {
        s.name: NewPartitions(total_count=s.partitions)
        for s in specs
        if s.name in existing and existing[s.name] < s.partitions
    }
    if grow:
        for name, np in grow.items():
            log(f"growing {name} from {existing[name]} to {np.total_count} partitions")
        await admin.create_partitions(grow, timeout_ms=30000)
    for s in specs:
        if existing.get(s.name, 0) > s.partitions:
            log(f"warning: {s.name} has {existing[s.name]} partitions, more than {s.partitions}")

    deadline = time.monotonic() + 30
    while True:
        counts = await partition_counts(admin, names, with_leader=True)
        behind = [s.name for s in specs if counts.get(s.name, 0) < s.partitions]
        if not behind:
            return
        if time.monotonic() > deadline:
            raise CheckFailed(f"topics without a leader 30s after creation: {behind}")
        await asyncio.sleep(0.2)


def topic_spec(text: str) -> TopicSpec:
    """``NAME:PARTITIONS`` as a TopicSpec (argparse type)."""
    name, sep, count = text.rpartition(":")
    if not sep or not name or not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"expected NAME:PARTITIONS, got {text!r}")
    return TopicSpec(name, int(count))


async def create(specs: Sequence[TopicSpec], replication_factor: int, timeout: float) -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    admin = await start_admin(bootstrap, time.monotonic() + timeout)
    try:
        await ensure_topics(admin, specs, {}, replication_factor=replication_factor)
    finally:
        await admin.close()
    log(f"{len(specs)} topics ready on {bootstrap}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m servicekit.topics", description=(__doc__ or "").split("\n\n")[0]
    )
    p.add_argument(
        "topics",
        nargs="*",
        type=topic_spec,
        metavar="NAME:PARTITIONS",
        help="the topics (default: contracts.topics.ALL_TOPICS)",
    )
    p.add_argument("--replication-factor", type=int, default=1, help="for new topics (1)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to reach Kafka (120)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        asyncio.run(create(args.topics or ALL_TOPICS, args.replication_factor, args.timeout))
    except CheckFailed as exc:
        print(f"kafka_topics: FAILED: {exc}", file=sys.stderr)
        return 1
    except (KafkaError, KafkaConnectionError, OSError) as exc:
        print(f"kafka_topics: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
