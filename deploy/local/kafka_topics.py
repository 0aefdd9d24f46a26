"""Create the ConnectFlo Kafka topics and health-check the broker.

Run with the workspace's interpreter (``deploy/local/infra.sh start`` does it for you)::

    .venv/bin/python deploy/local/kafka_topics.py            # create topics + round-trip check
    .venv/bin/python deploy/local/kafka_topics.py --list     # print topics and partition counts
    .venv/bin/python deploy/local/kafka_topics.py --no-healthcheck
    .venv/bin/python deploy/local/kafka_topics.py --wait-groups connectflo-executor:2,...

The broker runs with ``auto.create.topics.enable=false``: every topic in
``contracts.topics.ALL_TOPICS`` is created here with its explicit partition count (an existing topic
with fewer partitions is grown; one with more is left alone, Kafka cannot shrink a topic; the
creation is ``servicekit.topics``, which the Helm chart's topics Job runs too).

The health check produces a unique value to ``connectflo.healthcheck.v1`` (1 partition, created
here) and reads it back with a fresh consumer in a new consumer group, committing its offset, so it
exercises the produce path, the group coordinator (``__consumer_offsets``) and the fetch path.

``--wait-groups GROUP:MEMBERS,...`` only waits until each consumer group is Stable with at least
that many members (a FastStream subscriber is one member), i.e. its partitions are assigned: a
service's health check passes as soon as it runs, but a trigger sent before its consumer group has
settled waits for the rebalance (seconds). ``services.sh start`` calls it.

Bootstrap servers come from ``KAFKA_BOOTSTRAP_SERVERS`` (default ``127.0.0.1:9092``).
Exit status: 0 on success, 1 on any failure (with a message on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError

try:
    from contracts.topics import ALL_TOPICS, TopicSpec
    from servicekit.topics import CheckFailed, ensure_topics, log, start_admin
except ImportError:  # the workspace venv normally has them; fall back to the source tree
    for lib in ("contracts", "servicekit"):
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "libs" / lib / "src"))
    from contracts.topics import ALL_TOPICS, TopicSpec
    from servicekit.topics import CheckFailed, ensure_topics, log, start_admin

HEALTHCHECK_TOPIC = TopicSpec("connectflo.healthcheck.v1", 1)
HEALTHCHECK_CONFIGS = {"retention.ms": "3600000", "segment.ms": "3600000"}


async def healthcheck(bootstrap: str, timeout: float) -> float:
    """Produce a unique value and consume it back with a fresh consumer; return seconds taken."""
    started = time.monotonic()
    value = f"healthcheck {uuid.uuid4()} {time.time():.3f}".encode()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, client_id="connectflo-healthcheck", acks="all"
    )
    await producer.start()
    try:
        meta = await asyncio.wait_for(
            producer.send_and_wait(HEALTHCHECK_TOPIC.name, value, key=b"healthcheck"), timeout
        )
    except TimeoutError as exc:
        msg = f"produce to {HEALTHCHECK_TOPIC.name} timed out after {timeout}s"
        raise CheckFailed(msg) from exc
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        HEALTHCHECK_TOPIC.name,
        bootstrap_servers=bootstrap,
        client_id="connectflo-healthcheck",
        group_id=f"connectflo-healthcheck-{uuid.uuid4().hex[:12]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        remaining = timeout - (time.monotonic() - started)
        while remaining > 0:
            batches = await consumer.getmany(timeout_ms=int(min(remaining, 1.0) * 1000))
            for records in batches.values():
                for rec in records:
                    if rec.value == value:
                        await consumer.commit()
                        return time.monotonic() - started
            remaining = timeout - (time.monotonic() - started)
        raise CheckFailed(
            f"produced to {HEALTHCHECK_TOPIC.name} partition {meta.partition} offset {meta.offset}"
            f" but a fresh consumer did not read it back within {timeout}s"
            " (consumer group coordinator not ready? check the broker log)"
        )
    finally:
        await consumer.stop()


async def list_topics(admin: AIOKafkaAdminClient) -> None:
    topics = await admin.describe_topics(None)
    for t in sorted(topics, key=lambda t: t["topic"]):
        internal = " (internal)" if t.get("is_internal") else ""
        print(f"{t['topic']}\t{len(t['partitions'])}{internal}")


async def wait_groups(admin: AIOKafkaAdminClient, groups: dict[str, int], deadline: float) -> None:
    """Until every group is Stable with at least its number of members (or CheckFailed at the
    deadline)."""
    waiting = set(groups)
    states: dict[str, str] = {}
    while waiting:
        for group in sorted(waiting):
            try:
                (response,) = await admin.describe_consumer_groups([group])
            except KafkaError as exc:  # the coordinator may still be loading
                states[group] = type(exc).__name__
                continue
            # DescribeGroupsResponse: (error_code, group_id, state, protocol_type, protocol,
            # members, ...) per group
            _error, _group, state, _ptype, _protocol, members, *_ = response.groups[0]
            states[group] = f"{state}, {len(members)} member(s)"
            if state == "Stable" and len(members) >= groups[group]:
                waiting.discard(group)
        if not waiting:
            break
        if time.monotonic() > deadline:
            raise CheckFailed(
                "consumer groups not ready: "
                + ", ".join(f"{g} ({states.get(g, 'unknown')})" for g in sorted(waiting))
            )
        await asyncio.sleep(0.2)


async def skip_to_end(bootstrap: str, groups: list[str]) -> None:
    """Commit the end of every connectflo topic for these consumer groups, before their
    services join: they read with auto_offset_reset=earliest and would otherwise first work
    through everything other stacks on this machine produced since they last ran (`make
    bench`'s and `make test`'s services share the topics, each with groups of its own)."""
    partitions = [TopicPartition(t.name, p) for t in ALL_TOPICS for p in range(t.partitions)]
    for group in groups:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.commit(dict(await consumer.end_offsets(partitions)))
        finally:
            await consumer.stop()


async def run(args: argparse.Namespace) -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    deadline = time.monotonic() + args.timeout
    if args.skip_to_end:
        groups = list(filter(None, args.skip_to_end.split(",")))
        await skip_to_end(bootstrap, groups)
        log(f"consumer groups moved to the end of every topic: {', '.join(groups)}")
        return
    admin = await start_admin(bootstrap, deadline)
    try:
        if args.wait_groups:
            groups = {}
            for spec in filter(None, args.wait_groups.split(",")):
                group, _, members = spec.partition(":")
                groups[group] = int(members or 1)
            t0 = time.monotonic()
            await wait_groups(admin, groups, deadline)
            log(f"consumer groups ready in {time.monotonic() - t0:.1f}s: {', '.join(groups)}")
            return
        if args.list:
            await list_topics(admin)
            return
        specs = list(ALL_TOPICS)
        if not args.no_healthcheck:
            specs.append(HEALTHCHECK_TOPIC)
        await ensure_topics(admin, specs, {HEALTHCHECK_TOPIC.name: HEALTHCHECK_CONFIGS})
        log(f"{len(ALL_TOPICS)} topics ready on {bootstrap}")
    finally:
        await admin.close()
    if not args.no_healthcheck:
        took = await healthcheck(bootstrap, args.timeout)
        log(f"health check passed: produce/consume round trip in {took:.2f}s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", action="store_true", help="print every topic and its partition count")
    p.add_argument("--no-healthcheck", action="store_true", help="only create the topics")
    p.add_argument(
        "--wait-groups",
        metavar="GROUP:MEMBERS,...",
        help="only wait until these consumer groups are Stable with that many members",
    )
    p.add_argument(
        "--skip-to-end",
        metavar="GROUP,...",
        help="only commit the end of every topic for these consumer groups (before they join)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for each phase (60)")
    p.add_argument("-v", "--verbose", action="store_true", help="show aiokafka's warnings")
    args = p.parse_args(argv)
    # aiokafka logs expected transient errors as warnings while a fresh broker creates
    # __consumer_offsets (GroupCoordinatorNotAvailable, "Marking the coordinator dead"): hide them.
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s %(message)s")
    if not args.verbose:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        asyncio.run(run(args))
    except CheckFailed as exc:
        print(f"kafka_topics: FAILED: {exc}", file=sys.stderr)
        return 1
    except (KafkaError, KafkaConnectionError, OSError) as exc:
        print(f"kafka_topics: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
