"""Kafka or MongoDB not answering in time is a 503 with Retry-After (on the fast lane and on
the routes), never a 500; and a trigger whose publish failed can be sent again."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
from servicekit.publisher import Unavailable

GOOD = {"conversation_id": "conv-1", "channel": "chat", "payload": {"text": "hi"}}


class DownTenants:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def tenant_for_key(self, key_digest: str) -> str | None:
        raise self.error


def gateway_of(gw: Any) -> Any:
    return gw.client.app.app.state.gateway


def expect_503(expect_problem: Any, response: Any) -> dict[str, Any]:
    problem = expect_problem(response, 503)
    assert problem["type"] == "urn:connectflo:problem:unavailable"
    assert int(response.headers["retry-after"]) > 0
    return problem


def test_a_trigger_while_kafka_does_not_acknowledge_is_503(expect_problem, gw) -> None:
    gw.broker.failure = Unavailable("Kafka did not acknowledge")
    response = gw.client.post("/v1/events/incoming_message", json=GOOD, headers=gw.as_tenant())
    assert "Kafka" in expect_503(expect_problem, response)["detail"]


def test_a_trigger_that_the_route_serves_is_503_too(expect_problem, gw) -> None:
    # only `application/json` is the fast lane's: the route parses `application/*+json`
    gw.broker.failure = Unavailable("Kafka did not acknowledge")
    response = gw.client.post(
        "/v1/events/incoming_message",
        content=json.dumps(GOOD).encode(),
        headers={**gw.as_tenant(), "Content-Type": "application/merge-patch+json"},
    )
    expect_503(expect_problem, response)


def test_a_command_while_kafka_does_not_acknowledge_is_503(expect_problem, gw) -> None:
    gw.executions.docs["exe_1"] = {"_id": "exe_1", "tenant_id": "ten_a", "status": "running"}
    gw.broker.failure = Unavailable("Kafka did not acknowledge")
    response = gw.client.post("/v1/executions/exe_1/cancel", headers=gw.as_tenant())
    expect_503(expect_problem, response)


@pytest.mark.parametrize(
    "error",
    [
        ServerSelectionTimeoutError("no server"),
        NetworkTimeout("timed out"),
        AutoReconnect("connection reset"),
    ],
    ids=["server-selection", "network-timeout", "auto-reconnect"],
)
def test_mongodb_unavailable_is_503_on_the_routes_and_the_fast_lane(
    expect_problem, gw, error
) -> None:
    object.__setattr__(gateway_of(gw), "tenants", DownTenants(error))
    listing = gw.client.get("/v1/workflows", headers=gw.as_tenant())
    assert "database" in expect_503(expect_problem, listing)["detail"]
    trigger = gw.client.post("/v1/events/incoming_message", json=GOOD, headers=gw.as_tenant())
    expect_503(expect_problem, trigger)
    assert gw.broker.published == []


def test_an_event_id_whose_publish_failed_is_accepted_on_retry_not_called_a_duplicate(
    expect_problem, gw
) -> None:
    receipts = gw.receipts
    body = {**GOOD, "event_id": "evt-1"}

    gw.broker.failure = Unavailable("Kafka did not acknowledge")
    failed = gw.client.post("/v1/events/incoming_message", json=body, headers=gw.as_tenant())
    expect_503(expect_problem, failed)
    assert receipts.receipts["ten_a:evt-1"]["published"] is False

    gw.broker.failure = None
    retried = gw.client.post("/v1/events/incoming_message", json=body, headers=gw.as_tenant())
    assert retried.status_code == 202, retried.text
    assert retried.json()["duplicate"] is False
    (published,) = gw.broker.published
    # the same trigger id as the first attempt: should Kafka take that one late after all,
    # the executor runs one execution for both
    trigger_id = receipts.receipts["ten_a:evt-1"]["trigger_id"]
    assert retried.json()["trigger_id"] == trigger_id
    assert json.loads(published["value"])["trigger_id"] == trigger_id

    again = gw.client.post("/v1/events/incoming_message", json=body, headers=gw.as_tenant())
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len(gw.broker.published) == 1
