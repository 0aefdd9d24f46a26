"""A Kafka outage from the outside: every service says it is not ready, a trigger is refused
fast with 503 and Retry-After (not accepted and lost, not answered 500 after a client's
timeout), and once the broker is back the services are ready again and triggers run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import httpx
import pytest
from conftest import REPO, SERVICES, Stack, TenantApi
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e

INFRA = str(REPO / "deploy/local/infra.sh")
LOG_LINES_PER_OUTAGE = 150  # per service: reconnect noise is rate limited (servicekit.logs)


async def infra(command: str) -> None:
    await asyncio.to_thread(
        subprocess.run, [INFRA, command, "kafka"], check=True, capture_output=True
    )


async def readiness(http: httpx.AsyncClient) -> dict[str, httpx.Response]:
    answers = await asyncio.gather(
        *(http.get(f"http://127.0.0.1:{s.port}/readyz", timeout=10) for s in SERVICES.values())
    )
    return dict(zip(SERVICES, answers, strict=True))


async def until_ready(http: httpx.AsyncClient, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers = await readiness(http)
        if all(a.status_code == 200 for a in answers.values()):
            return
        await asyncio.sleep(0.5)
    not_ready = {n: a.text for n, a in (await readiness(http)).items() if a.status_code != 200}
    raise AssertionError(f"not ready {timeout}s after Kafka came back: {not_ready}")


@pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="an external broker is not ours to stop"
)
async def test_kafka_outage_is_503_with_retry_after_and_readiness_follows(
    stack: Stack, api: TenantApi, http: httpx.AsyncClient
) -> None:
    await api.activate(greeting_workflow())
    await until_ready(http)
    lines_before = {name: len(stack.log_of(name).splitlines()) for name in SERVICES}
    await infra("stop")
    try:
        # readiness names Kafka in every service (each check is bounded: within seconds)
        answers = await readiness(http)
        for name, answer in answers.items():
            assert answer.status_code == 503, (name, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["retry-after"]
            assert answer.json()["checks"]["kafka"] is False, (name, answer.text)
            assert answer.json()["checks"]["mongodb"] is True, (name, answer.text)
        # liveness is not readiness: the processes are alive and wait for the broker
        for service in SERVICES.values():
            alive = await http.get(f"http://127.0.0.1:{service.port}/healthz")
            assert alive.status_code == 200, alive.text

        started = time.monotonic()
        refused = await http.post(
            "/v1/events/incoming_message",
            json={"conversation_id": "outage", "channel": "chat", "payload": {"text": "hi"}},
            headers=api.tenant.headers,
            timeout=30,
        )
        elapsed = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        assert elapsed < 5, f"the 503 took {elapsed:.1f}s"
    finally:
        await infra("start")
    await until_ready(http)
    stack.assert_alive()
    # the outage leaves a readable log: the clients' reconnect noise is rate limited
    for name, before in lines_before.items():
        written = stack.log_of(name).splitlines()[before:]
        assert len(written) < LOG_LINES_PER_OUTAGE, (name, len(written), written[-20:])
    trigger_id = await api.message("hello again", conversation_id="after-outage")
    execution = await api.finished_execution(trigger_id, timeout=60)
    assert execution["status"] == "completed", execution
