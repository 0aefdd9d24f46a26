"""The trigger ingress: well-formed triggers are served without FastAPI's routing; everything
else reaches the route with its body intact, and the route's answers stay FastAPI's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from contracts import topics
from prometheus_client import REGISTRY
from servicekit.service import HttpMetrics
from trigger_gateway.handlers.ingress import TriggerIngress

GOOD = {"conversation_id": "conv-1", "channel": "chat", "payload": {"text": "hi"}}
KEY = {"Authorization": "Bearer key-a"}


@dataclass
class Downstream:
    """Stands for FastAPI: records what reached it, with the whole body it could read."""

    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"route"})


@pytest.fixture
async def lane(gw: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Downstream, Any]]:
    """The ingress in front of a recording downstream app, with the harness's gateway."""
    gateway = gw.client.app.app.state.gateway  # the TestClient's ingress, its FastAPI app
    downstream = Downstream()
    transport = httpx.ASGITransport(app=TriggerIngress(downstream, lambda: gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        yield client, downstream, gw.broker


async def test_a_well_formed_trigger_is_published_without_the_route(lane) -> None:
    client, downstream, broker = lane
    response = await client.post("/v1/events/incoming_message", json=GOOD, headers=KEY)
    assert response.status_code == 202
    assert response.headers["content-length"] == str(len(response.content))
    accepted = response.json()
    assert accepted["trigger_type"] == "Incoming Message" and accepted["duplicate"] is False
    assert downstream.bodies == []
    (published,) = broker.published
    assert published["topic"] == topics.TRIGGERS and published["key"] == b"conv-1"
    data = json.loads(published["value"])
    assert data["trigger_id"] == accepted["trigger_id"] and data["tenant_id"] == "ten_a"
    assert (
        data["payload"] == {"text": "hi"} and published["headers"]["ce_type"] == "TriggerReceived"
    )


async def test_the_callers_trace_continues_with_its_tracestate(lane) -> None:
    client, _, broker = lane
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = await client.post(
        "/v1/events/incoming_message",
        json=GOOD,
        headers={**KEY, "traceparent": incoming, "tracestate": "vendor=abc,other=1"},
    )
    assert response.status_code == 202
    (published,) = broker.published
    assert published["headers"]["traceparent"].split("-")[1] == incoming.split("-")[1]
    assert published["headers"]["tracestate"] == "vendor=abc,other=1"


async def test_x_api_key_and_slug_spellings_are_served_too(lane) -> None:
    client, downstream, broker = lane
    response = await client.post(
        "/v1/events/Incoming-Message", json=GOOD, headers={"X-API-Key": "key-b"}
    )
    assert response.status_code == 202 and downstream.bodies == []
    assert json.loads(broker.published[0]["value"])["tenant_id"] == "ten_b"


async def test_a_repeated_event_id_is_answered_200_and_published_once(lane) -> None:
    client, downstream, broker = lane
    body = {**GOOD, "event_id": "evt-1"}
    first = await client.post("/v1/events/incoming_message", json=body, headers=KEY)
    second = await client.post("/v1/events/incoming_message", json=body, headers=KEY)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["duplicate"] is True
    assert second.json()["trigger_id"] == first.json()["trigger_id"]
    assert len(broker.published) == 1 and downstream.bodies == []


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/v1/events/incoming_message", {"payload": "not an object"}, KEY),
        ("/v1/events/incoming_message", {"channel": "chat"}, KEY),
        ("/v1/events/incoming_message", {**GOOD, "unexpected": 1}, KEY),
        ("/v1/events/incoming_fax", GOOD, KEY),
        ("/v1/events/incoming_message", GOOD, {"Authorization": "Bearer not-a-key"}),
        ("/v1/events/incoming_message", GOOD, {}),
        ("/v1/events/incoming_message", GOOD, {"Authorization": "Bearer ", "X-API-Key": "key-a"}),
    ],
    ids=[
        "payload-type",
        "no-payload",
        "extra-field",
        "unknown-type",
        "unknown-key",
        "no-key",
        "empty-bearer",
    ],
)
async def test_anything_not_well_formed_reaches_the_route_with_its_body(
    lane, path: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    client, downstream, broker = lane
    content = json.dumps(body).encode()
    response = await client.post(
        path, content=content, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 299
    assert downstream.bodies == [content] and broker.published == []


async def test_malformed_json_and_other_content_types_reach_the_route(lane) -> None:
    client, downstream, broker = lane
    for content, content_type in [(b"{not json", "application/json"), (b"a=1", "text/plain")]:
        response = await client.post(
            "/v1/events/incoming_message",
            content=content,
            headers={**KEY, "Content-Type": content_type},
        )
        assert response.status_code == 299
    assert downstream.bodies == [b"{not json", b"a=1"] and broker.published == []


async def test_a_body_over_the_limit_is_413_naming_it_before_it_is_read_whole(lane) -> None:
    client, downstream, broker = lane
    chunk = b"x" * 65536
    sent = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range((1 << 20) // len(chunk) + 40):
            sent.append(len(chunk))
            yield chunk

    response = await client.post(
        "/v1/events/incoming_message",
        content=chunks(),  # no Content-Length: counted as the bytes arrive
        headers={**KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "1048576 bytes" in response.json()["detail"]
    assert downstream.bodies == [] and broker.published == []


async def test_a_declared_length_over_the_limit_is_413_at_once(lane) -> None:
    client, downstream, _ = lane
    content = json.dumps({**GOOD, "payload": {"text": "x" * (1 << 20)}}).encode()
    response = await client.post(
        "/v1/events/incoming_message",
        content=content,
        headers={**KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["status"] == 413
    assert downstream.bodies == []


async def test_other_routes_pass_straight_through(lane) -> None:
    client, downstream, _ = lane
    assert (await client.get("/v1/events/incoming_message", headers=KEY)).status_code == 299
    assert (await client.post("/v1/workflows", json=GOOD, headers=KEY)).status_code == 299
    assert (await client.post("/v1/events/a/b", json=GOOD, headers=KEY)).status_code == 299
    assert len(downstream.bodies) == 3


def test_through_the_app_errors_are_problems_and_triggers_are_accepted(gw) -> None:
    ok = gw.client.post("/v1/events/incoming_message", json=GOOD, headers=gw.as_tenant())
    assert ok.status_code == 202 and len(gw.broker.published) == 1
    bad = gw.client.post(
        "/v1/events/incoming_message", json={"payload": "no"}, headers=gw.as_tenant()
    )
    assert bad.status_code == 422
    assert [e["name"] for e in bad.json()["errors"]] == ["body.payload"]
    unknown = gw.client.post("/v1/events/incoming_fax", json=GOOD, headers=gw.as_tenant())
    assert unknown.status_code == 404 and "incoming_message" in unknown.json()["detail"]
    nobody = gw.client.post("/v1/events/incoming_message", json=GOOD)
    assert nobody.status_code == 401 and "API key" in nobody.json()["detail"]
    for answer in (bad, unknown, nobody):
        assert answer.headers["content-type"] == "application/problem+json"
    assert len(gw.broker.published) == 1


async def test_http_metrics_count_the_fast_lane_under_its_route_template(gw: Any) -> None:
    gateway = gw.client.app.app.state.gateway
    app = HttpMetrics(TriggerIngress(Downstream(), lambda: gateway))
    labels = {"route": "/v1/events/{trigger_type}", "method": "POST", "status": "202"}
    before = REGISTRY.get_sample_value("connectflo_http_requests_total", labels) or 0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        for slug in ("incoming_message", "new_order"):
            answer = await client.post(f"/v1/events/{slug}", json=GOOD, headers=KEY)
            assert answer.status_code == 202
    assert REGISTRY.get_sample_value("connectflo_http_requests_total", labels) == before + 2
