"""A broker that does not answer: the trigger is refused 503 with Retry-After within the
gateway's publish timeout (3 s), not answered 500 after aiokafka's 40 s; once the broker is
back the same trigger (same event id) is accepted."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

KAFKA_PID = Path(__file__).resolve().parents[1] / ".run" / "kafka" / "kafka.pid"


@contextlib.contextmanager
def kafka_frozen() -> Iterator[None]:
    """The local broker stopped (SIGSTOP) and continued afterwards: it holds its connections
    and answers nothing, as a broker that hangs; quicker and safer to undo than a restart."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or not KAFKA_PID.exists():
        pytest.skip("Kafka is not one of ours to stop")
    pid = int(KAFKA_PID.read_text().strip())
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_a_trigger_while_kafka_hangs_is_503_with_retry_after_within_5_s(
    stack, http, tenant
) -> None:
    body = {"event_id": f"evt-{time.time_ns()}", "payload": {"text": "hello?"}}
    # the key is known (cached) first: this asks Kafka only
    warm = await http.post(
        "/v1/events/incoming_message", json={"payload": {}}, headers=tenant.headers
    )
    assert warm.status_code == 202
    with kafka_frozen():
        began = time.monotonic()
        refused = await http.post(
            "/v1/events/incoming_message", json=body, headers=tenant.headers, timeout=30
        )
        took = time.monotonic() - began
    assert refused.status_code == 503, refused.text
    assert took < 5, f"answered after {took:.1f}s"
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) > 0

    deadline = time.monotonic() + 60
    while True:  # the producer reconnects once the broker answers again
        retried = await http.post("/v1/events/incoming_message", json=body, headers=tenant.headers)
        if retried.status_code != 503 or time.monotonic() > deadline:
            break
    assert retried.status_code == 202, retried.text
    assert retried.json()["duplicate"] is False
