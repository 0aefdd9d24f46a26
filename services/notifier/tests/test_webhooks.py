"""The tenants' webhooks in the notifier: consumed events stored as deliveries for the
subscribed endpoints (on the kit's in-memory broker and MongoDB), then POSTed by the dispatcher
to a real HTTP receiver on 127.0.0.1, signed with the endpoint's secret, retried after a 500,
given up on 410 (the endpoint disabled); and the SSRF guard of the HTTP client."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from contracts import Envelope, topics
from contracts.envelope import NO_TRACE
from contracts.events import InboundMessage, ReplySent, TriggerReceived
from notifier.adapters.webhook_client import WebhookClient
from notifier.adapters.webhook_deliveries import WebhookDeliveries
from notifier.adapters.webhook_endpoints import WEBHOOK_SECRET, WebhookEndpoints
from notifier.domain.webhooks import RetryPolicy
from notifier.handlers.kafka import consume_webhooks
from notifier.publishing import Outgoing
from notifier.webhooks import WebhookDispatcher, WebhookEvents
from servicekit.delivery import Consumed
from servicekit.testing import running

from .conftest import KEYRING, Notifier

SECRET = "whsec_" + "ab" * 32


class Receiver:
    def __init__(self, answers: list[int]) -> None:
        self.answers = answers
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                answer = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver([500])
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def register(notifier: Notifier, url: str, **fields: Any) -> dict[str, Any]:
    """An endpoint as the gateway stores it."""
    doc = {
        "_id": "whk_1",
        "tenant_id": notifier.tenant,
        "url": url,
        "event_types": ["message.received"],
        "active": True,
        "secret": KEYRING.seal(
            SECRET, tenant_id=notifier.tenant, purpose=WEBHOOK_SECRET
        ).to_document(),
        "created_at": datetime.now(UTC) - timedelta(seconds=1),
        **fields,
    }
    notifier.db.webhook_endpoints.docs[doc["_id"]] = doc
    return doc


def inbound(n: int, tenant: str) -> Envelope[TriggerReceived]:
    event = TriggerReceived(
        trigger_id=f"trg_{n}",
        tenant_id=tenant,
        trigger_type="Incoming Message",
        conversation_id="cnv_1",
        channel="chat",
        received_at=datetime.now(UTC),
        message=InboundMessage(contact_address="vis_1", body=f"hello {n}"),
    )
    return Envelope.wrap(event, source="/test", tenant_id=tenant)


def wired(notifier: Notifier, **policy: float) -> WebhookDispatcher:
    endpoints = WebhookEndpoints(notifier.db, KEYRING, ttl_seconds=0)  # type: ignore[arg-type]
    deliveries = WebhookDeliveries(notifier.db)  # type: ignore[arg-type]
    client = WebhookClient(timeout_seconds=5, max_in_flight=4, allow_private=True)
    dispatcher = WebhookDispatcher(
        endpoints,
        deliveries,
        client,
        RetryPolicy(**{"base_seconds": 0.01, **policy}),  # type: ignore[arg-type]
        poll_seconds=0.01,
        lease_seconds=30,
    )
    events = WebhookEvents(endpoints, deliveries, dispatcher.wake)
    consume_webhooks(notifier.kit, events)
    notifier.kit.on_stop(client.close)
    return dispatcher


async def until_settled(dispatcher: WebhookDispatcher, notifier: Notifier) -> list[Any]:
    for _ in range(500):
        docs = list(notifier.db.webhook_deliveries.docs.values())
        if docs and all(d["status"] != "pending" for d in docs):
            return docs
        await dispatcher.round()
        await asyncio.sleep(0.01)
    raise AssertionError("deliveries still pending")


async def test_a_customers_message_is_posted_signed_and_retried_after_a_500(
    receiver: Receiver,
) -> None:
    notifier = Notifier()
    endpoint = register(notifier, receiver.url)
    register(notifier, receiver.url, _id="whk_2", event_types=["message.sent"])  # not this type
    dispatcher = wired(notifier)
    for _ in range(2):  # redelivered: stored once
        notifier.broker.send(topics.TRIGGERS, inbound(1, notifier.tenant), key=b"cnv_1")
    notifier.broker.send(topics.TRIGGERS, inbound(2, "ten_other"), key=b"cnv_9")
    async with running(notifier.kit):
        await notifier.broker.idle()
        (delivery,) = await until_settled(dispatcher, notifier)

    assert delivery["endpoint_id"] == endpoint["_id"] and delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 200]
    assert delivery["attempts"] == 2 and SECRET not in json.dumps(delivery, default=str)
    first, second = receiver.requests
    assert first[1] == second[1]  # the same bytes, signed again
    headers, body = second
    event = json.loads(body)
    assert event["type"] == "message.received" and event["data"]["body"] == "hello 1"
    assert headers["X-ConnectFlo-Event-Id"] == event["id"] == delivery["event_id"]
    assert headers["X-ConnectFlo-Delivery-Attempt"] == "2"
    t, v1 = (part.split("=", 1)[1] for part in headers["X-ConnectFlo-Signature"].split(","))
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, v1)


async def test_a_410_disables_the_endpoint_and_its_other_deliveries_are_given_up(
    receiver: Receiver,
) -> None:
    receiver.answers[:] = [410]
    notifier = Notifier()
    register(notifier, receiver.url)
    dispatcher = wired(notifier)
    notifier.broker.send(topics.TRIGGERS, inbound(1, notifier.tenant), key=b"cnv_1")
    async with running(notifier.kit):
        await notifier.broker.idle()
        (delivery,) = await until_settled(dispatcher, notifier)
        assert delivery["status"] == "failed" and delivery["last_status_code"] == 410
        endpoint = notifier.db.webhook_endpoints.docs["whk_1"]
        assert endpoint["active"] is False and "410" in endpoint["disabled_reason"]
        later = {**delivery, "_id": "whd_later", "status": "pending", "attempts": 0}
        later["next_attempt_at"] = datetime.now(UTC)
        notifier.db.webhook_deliveries.docs["whd_later"] = later
        await dispatcher.round()
    gone = notifier.db.webhook_deliveries.docs["whd_later"]
    assert (gone["status"], gone["last_error"]) == ("failed", "endpoint disabled")
    assert len(receiver.requests) == 1


async def test_out_of_attempts_the_delivery_is_failed(receiver: Receiver) -> None:
    receiver.answers[:] = [503, 503, 503]
    notifier = Notifier()
    register(notifier, receiver.url)
    dispatcher = wired(notifier, max_attempts=2)
    notifier.broker.send(topics.TRIGGERS, inbound(1, notifier.tenant), key=b"cnv_1")
    async with running(notifier.kit):
        await notifier.broker.idle()
        (delivery,) = await until_settled(dispatcher, notifier)
    assert delivery["status"] == "failed" and delivery["attempts"] == 2
    assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 503]


async def test_the_ssrf_guard_refuses_loopback_unless_allowed(receiver: Receiver) -> None:
    guarded = WebhookClient(timeout_seconds=5, max_in_flight=1, allow_private=False)
    open_ = WebhookClient(timeout_seconds=5, max_in_flight=1, allow_private=True)
    try:
        refused = await guarded.post(receiver.url, b"{}", {})
        assert refused.refused and "non-public" in (refused.error or "")
        assert receiver.requests == []
        answered = await open_.post(receiver.url, b"{}", {})
        assert answered.status_code == 500 and not answered.refused
    finally:
        await guarded.close()
        await open_.close()


def events_of(notifier: Notifier) -> WebhookEvents:
    endpoints = WebhookEndpoints(notifier.db, KEYRING, ttl_seconds=0)  # type: ignore[arg-type]
    return WebhookEvents(endpoints, WebhookDeliveries(notifier.db), lambda: None)  # type: ignore[arg-type]


async def test_a_record_of_a_tenant_without_endpoints_is_passed_over_undecoded() -> None:
    notifier = Notifier()
    register(notifier, "http://127.0.0.1:9/hook")
    ours, other = (
        Consumed(topics.TRIGGERS, 0, n, b"k", {"tenant_id": tenant}, b"not even JSON")
        for n, tenant in enumerate((notifier.tenant, "ten_other"))
    )
    assert await events_of(notifier).select([ours, other]) == [ours]


async def test_what_the_notifier_published_becomes_the_tenants_deliveries() -> None:
    notifier = Notifier()
    register(notifier, "http://127.0.0.1:9/hook", event_types=["message.sent"])
    reply = ReplySent(
        notification_id="ntf_1",
        tenant_id=notifier.tenant,
        conversation_id="cnv_1",
        execution_id="exe_1",
        message="Hi",
        sent_at=datetime.now(UTC),
        message_id="msg_1",
        channel="chat",
    )
    elsewhere = reply.model_copy(update={"tenant_id": "ten_other", "notification_id": "ntf_2"})
    outgoing = [
        Outgoing(topics.REPLIES, "cnv_1", event, event.tenant_id, NO_TRACE)
        for event in (reply, elsewhere)
    ]
    await events_of(notifier).on_published(outgoing)

    (delivery,) = notifier.db.webhook_deliveries.docs.values()
    assert delivery["event_type"] == "message.sent" and delivery["endpoint_id"] == "whk_1"
    assert json.loads(delivery["body"])["data"]["body"] == "Hi"
