"""A tenant's outbound webhook on the real stack: registered through the API (its secret answered
once, then only its fingerprint), pointed at a receiver this test runs on 127.0.0.1. A signed
chat message comes in; the receiver gets `message.received` and the reply's `message.sent`,
each signed `t=...,v1=...` with the endpoint's secret (checked here with hmac, as a tenant
would). The receiver answers the first request 500: that event is retried and delivered, and
the deliveries API shows both attempts. A ping through `POST .../test`; a 410 disables the
endpoint. The secret is in no log and no API answer but the first."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e


class Receiver:
    """The tenant's system: records every request; answers the first 500, then ``status``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    answer = 500 if not receiver.requests else receiver.status
                    receiver.requests.append(
                        {"headers": dict(self.headers), "body": body, "answered": answer}
                    )
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/connectflo"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def delivered(self, event_type: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r["answered"] == 200 and r["headers"]["X-ConnectFlo-Event-Type"] == event_type
            ]

    async def wait(self, *event_types: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.delivered(t) for t in event_types):
            assert time.monotonic() < deadline, [
                (r["headers"]["X-ConnectFlo-Event-Type"], r["answered"]) for r in self.requests
            ]
            await asyncio.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


async def post_message(
    http: httpx.AsyncClient, key: str, session: dict[str, Any], text: str, client_id: str
) -> httpx.Response:
    """A visitor's message, signed with its session key (the chat widget's scheme)."""
    body = json.dumps({"client_message_id": client_id, "text": text}).encode()
    t = int(time.time())
    mac = hmac.new(session["session_key"].encode(), f"{t}.".encode() + body, hashlib.sha256)
    return await http.post(
        f"/widget/v1/{key}/messages",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Widget-Session": session["session_id"],
            "X-Widget-Signature": f"t={t},v1={mac.hexdigest()}",
        },
    )


def assert_signed(request: dict[str, Any], secret: str) -> dict[str, Any]:
    """The request's body, after checking its signature as the tenant's code would."""
    header = request["headers"]["X-ConnectFlo-Signature"]
    items = [item.split("=", 1) for item in header.split(",")]
    timestamp = int(next(v for k, v in items if k == "t"))
    given = [v for k, v in items if k == "v1"]
    assert abs(time.time() - timestamp) < 300
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + request["body"], hashlib.sha256
    ).hexdigest()
    assert any(hmac.compare_digest(expected, v) for v in given), header
    event: dict[str, Any] = json.loads(request["body"])
    assert request["headers"]["X-ConnectFlo-Event-Id"] == event["id"]
    assert request["headers"]["X-ConnectFlo-Event-Type"] == event["type"]
    return event


async def test_conversation_events_reach_the_tenants_endpoint_signed_and_retried(
    stack, http, api, tenant, mongo, receiver
) -> None:
    await api.activate(greeting_workflow())
    widget = await http.post("/v1/channels/widgets", json={}, headers=tenant.headers)
    assert widget.status_code == 201, widget.text
    key = widget.json()["widget_key"]
    created = await http.post(
        "/v1/webhooks",
        json={"url": receiver.url, "event_types": ["message.received", "message.sent"]},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    secret, webhook_id = endpoint["secret"], endpoint["id"]
    assert secret.startswith("whsec_") and endpoint["active"] is True
    shown = await http.get(f"/v1/webhooks/{webhook_id}", headers=tenant.headers)
    assert "secret" not in shown.json()
    assert shown.json()["secret_fingerprint"] == endpoint["secret_fingerprint"]

    session = (await http.post(f"/widget/v1/{key}/sessions", json={"name": "Ada"})).json()
    sent = await post_message(http, key, session, "where is my order?", "m-1")
    assert sent.status_code == 202, sent.text
    await receiver.wait("message.received", "message.sent")

    (received,) = receiver.delivered("message.received")
    (replied,) = receiver.delivered("message.sent")
    inbound, reply = assert_signed(received, secret), assert_signed(replied, secret)
    assert inbound["tenant_id"] == reply["tenant_id"] == tenant.tenant_id
    assert inbound["data"]["body"] == "where is my order?"
    assert inbound["data"]["channel"] == reply["data"]["channel"] == "chat"
    conversation = session["conversation_id"]
    assert inbound["data"]["conversation_id"] == reply["data"]["conversation_id"] == conversation
    assert reply["data"]["body"] == "Hello Ada, about: where is my order?"
    logged = mongo.messages.find_one({"_id": reply["data"]["message_id"]})
    assert logged is not None and logged["direction"] == "outbound"
    assert mongo.messages.find_one({"_id": inbound["data"]["message_id"]}) is not None

    # the first request was answered 500: that event came again, the same bytes re-signed
    (failed,) = [r for r in receiver.requests if r["answered"] == 500]
    retried = [r for r in receiver.requests if r["body"] == failed["body"]]
    assert [r["answered"] for r in retried] == [500, 200]
    assert [r["headers"]["X-ConnectFlo-Delivery-Attempt"] for r in retried] == ["1", "2"]
    listed = await http.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    deliveries = {d["event_id"]: d for d in listed.json()["deliveries"]}
    assert set(deliveries) == {inbound["id"], reply["id"]}
    assert {d["status"] for d in deliveries.values()} == {"delivered"}
    twice = deliveries[json.loads(failed["body"])["id"]]
    assert [a["status_code"] for a in twice["attempt_log"]] == [500, 200]
    assert all(a["duration_ms"] >= 0 for a in twice["attempt_log"]) and twice["attempts"] == 2

    # a ping on request; a 410 disables the endpoint
    receiver.status = 410
    ping = await http.post(f"/v1/webhooks/{webhook_id}/test", headers=tenant.headers)
    assert ping.status_code == 202, ping.text
    deadline = time.monotonic() + 10
    while (await http.get(f"/v1/webhooks/{webhook_id}", headers=tenant.headers)).json()["active"]:
        assert time.monotonic() < deadline, "the 410 did not disable the endpoint"
        await asyncio.sleep(0.05)
    (gone,) = [r for r in receiver.requests if r["answered"] == 410]
    assert assert_signed(gone, secret)["type"] == "ping"
    disabled = (await http.get(f"/v1/webhooks/{webhook_id}", headers=tenant.headers)).json()
    assert "410" in disabled["disabled_reason"]

    stored = mongo.webhook_endpoints.find_one({"_id": webhook_id})
    assert secret not in json.dumps(stored, default=str)
    assert secret not in listed.text
    for service in ("notifier", "trigger-gateway"):
        assert secret not in stack.log_of(service)
