"""The integrations' own consumer on the kit's in-memory broker: in-memory call records and
connections, the real http mode against a server on 127.0.0.1."""

from __future__ import annotations

import logging

import pytest
from contracts import topics
from integrations.adapters.store import recorded_outcome
from memory_harness import Harness, MemoryConnections, connection, message, requested


async def test_http_connection_answers_with_the_systems_json_once_per_key(fake_system) -> None:
    harness = Harness(MemoryConnections(shopify=connection("http", fake_system.base_url)))
    same = message(requested())
    await harness.run(same, same)  # a redelivery
    assert len(fake_system.received) == 1, "the system is called once per idempotency key"
    assert [s.result for s in harness.settled] == [
        {"name": "#1042", "params": {"orderId": "1042"}}
    ] * 2
    assert {s.command_id for s in harness.settled} == {"settle:exe_1:shop:1:1"}
    record = harness.calls.docs["exe_1:shop:1:1"]
    assert record["status"] == "succeeded"
    assert recorded_outcome(record)[0] == harness.settled[0].result


async def test_echo_connection_answers_params_and_action() -> None:
    harness = Harness(MemoryConnections(shopify=connection()))
    await harness.run(message(requested(orderId="7")))
    assert harness.settled[0].result == {"echo": {"orderId": "7"}, "action": "getOrder"}
    assert harness.settled[0].error is None


async def test_no_connection_settles_with_not_connected() -> None:
    harness = Harness(MemoryConnections())
    await harness.run(message(requested()))
    [settled] = harness.settled
    assert settled.result is None
    assert settled.error is not None and settled.error["type"] == "NotConnected"


@pytest.mark.parametrize(
    ("action", "error_type"),
    [("missing", "NotFound"), ("broken", "Unavailable")],
)
async def test_http_errors_settle_with_a_typed_error(fake_system, action, error_type) -> None:
    harness = Harness(MemoryConnections(shopify=connection("http", fake_system.base_url)))
    await harness.run(message(requested(action=action)))
    [settled] = harness.settled
    assert settled.error is not None and settled.error["type"] == error_type
    assert harness.calls.docs["exe_1:shop:1:1"]["status"] == "failed"


async def test_a_garbage_message_is_dead_lettered_and_stored_and_the_next_one_flows() -> None:
    harness = Harness(MemoryConnections(shopify=connection()))
    garbage = (b"not json", {"ce_type": "IntegrationRequested", "tenant_id": "ten_1"})
    await harness.run(garbage, message(requested()))
    [dead] = harness.dead
    assert dead.consumer == "integrations"
    assert dead.original_topic == topics.INTEGRATION_REQUESTS
    assert dead.original_headers["tenant_id"] == "ten_1"
    assert harness.dead_on_topic[0]["dead_letter_id"] == dead.dead_letter_id
    assert len(harness.settled) == 1


async def test_nothing_of_the_request_or_the_url_reaches_the_logs(fake_system, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    harness = Harness(MemoryConnections(shopify=connection("http", fake_system.base_url)))
    await harness.run(
        message(requested(action="missing", token="sk_live_TOPSECRET")),
        message(requested(key="exe_1:shop:1:2", token="sk_live_TOPSECRET")),
    )
    assert len(harness.settled) == 2
    assert "TOPSECRET" not in caplog.text
    assert fake_system.base_url.split("//")[1] not in caplog.text
