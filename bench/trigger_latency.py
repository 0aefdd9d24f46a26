"""Time from trigger POST to ExecutionCompleted on Kafka, for the demo workflow of `make up`.

    make up && .venv/bin/python bench/trigger_latency.py [--triggers 20]

Triggers are sent one after another (no overlap), so this is the latency of one execution on an
idle system: gateway -> Kafka -> executor (create, start, run) -> notifier -> executor -> done.
Prints every sample and the median / p90 / max in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "libs/contracts/src"))
from contracts import topics  # noqa: E402

GATEWAY = f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8080')}"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def execution_id_for(trigger_id: str, workflow_id: str) -> str:
    """As services/executor/src/executor/runtime/triggers.py derives it."""
    return "exe_" + hashlib.sha256(f"{trigger_id}|{workflow_id}".encode()).hexdigest()[:24]


async def completed_watcher(consumer: AIOKafkaConsumer, done: dict[str, float]) -> None:
    async for record in consumer:
        headers = dict(record.headers)
        if headers.get("ce_type") == b"ExecutionCompleted":
            done[json.loads(record.value)["execution_id"]] = time.perf_counter()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triggers", type=int, default=20)
    args = parser.parse_args()
    state = json.loads((REPO / ".run/demo.json").read_text())
    auth = {"Authorization": f"Bearer {state['api_key']}"}

    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    (spec,) = [spec for spec in topics.ALL_TOPICS if spec.name == topics.EXECUTIONS]
    partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    done: dict[str, float] = {}
    watcher = asyncio.create_task(completed_watcher(consumer, done))

    samples: list[float] = []
    async with httpx.AsyncClient(base_url=GATEWAY, headers=auth, timeout=30) as http:
        for i in range(args.triggers):
            sent = time.perf_counter()
            response = await http.post(
                "/v1/events/incoming_message",
                json={
                    "conversation_id": f"bench-{i}",
                    "channel": "chat",
                    "payload": {"text": f"question {i}"},
                    "customer": {"name": "Bench"},
                },
            )
            response.raise_for_status()
            trigger_id = response.json()["trigger_id"]
            # The executor's execution id is derived from (trigger, workflow): no need to ask.
            execution_id = execution_id_for(trigger_id, state["workflow_id"])
            deadline = sent + 30
            while execution_id not in done:
                if time.perf_counter() > deadline:
                    sys.exit(f"trigger {trigger_id} did not complete in 30 s")
                await asyncio.sleep(0.001)
            samples.append((done[execution_id] - sent) * 1000)
            print(f"trigger {i + 1:3d}: {samples[-1]:7.1f} ms")
    watcher.cancel()
    await consumer.stop()
    ordered = sorted(samples)
    print(
        f"\n{len(samples)} triggers, trigger POST -> ExecutionCompleted: "
        f"median {statistics.median(samples):.1f} ms, "
        f"p90 {ordered[int(0.9 * (len(ordered) - 1))]:.1f} ms, max {ordered[-1]:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
