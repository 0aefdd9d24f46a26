"""SendGrid: the channel (the API key sealed, never answered), the Event Webhook verified with
the SDK's EventWebhook (forged, unsigned, stale: 403, nothing published; a retried event
published once), and Inbound Parse (a wrong secret: 403; a reply threaded into the
conversation of the message it answers; malformed posts 422, never 500)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from contracts import Envelope, topics
from contracts.events import DeliveryStatusReported, TriggerReceived
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from trigger_gateway.adapters.sendgrid_channels import SendGridChannel
from trigger_gateway.domain.conversation_keys import conversation_id_for

API_KEY = "SG.abcdefghijklmnop.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MESSAGE = "msg_" + "a" * 24
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def public_key(private: ec.EllipticCurvePrivateKey) -> str:
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


class MemorySendGridChannels:
    def __init__(self) -> None:
        self.channels: dict[str, SendGridChannel] = {}
        self.messages: dict[str, dict[str, Any]] = {}

    async def get(self, tenant_id: str) -> SendGridChannel | None:
        return self.channels.get(tenant_id)

    async def for_webhook(self, tenant_id: str, *, fresh: bool = False) -> Any:
        return self.channels.get(tenant_id), False

    async def put(self, tenant_id: str, fields: Any, *, api_key: Any, inbound_token: Any) -> Any:
        now = datetime.now(UTC)
        current = self.channels.get(tenant_id)
        channel = SendGridChannel(
            tenant_id=tenant_id,
            api_key=api_key or current.api_key,  # type: ignore[union-attr]
            inbound_token_digest=inbound_token[0]
            if inbound_token
            else current.inbound_token_digest,  # type: ignore[union-attr]
            inbound_token=inbound_token[1] if inbound_token else current.inbound_token,  # type: ignore[union-attr]
            created_at=current.created_at if current else now,
            updated_at=now,
            **fields,
        )
        self.channels[tenant_id] = channel
        return channel

    async def delete(self, tenant_id: str) -> bool:
        return self.channels.pop(tenant_id, None) is not None

    async def conversation_answered(self, tenant_id: str, ids: list[str]) -> str | None:
        for i in ids:
            doc = self.messages.get(i)
            if doc and doc["tenant_id"] == tenant_id:
                return str(doc["conversation_id"])
        return None


@pytest.fixture
def sg(gw) -> Any:
    channels = MemorySendGridChannels()
    gw.client.app.app.state.sendgrid = channels
    answer = gw.client.put(
        "/v1/channels/sendgrid",
        json={
            "api_key": API_KEY,
            "from_email": "support@acme.test",
            "from_name": "Acme",
            "event_webhook_public_key": public_key(KEY),
            "inbound_address": "help@reply.acme.test",
        },
        headers=gw.as_tenant("key-a"),
    )
    assert answer.status_code == 200, answer.text
    gw.view = answer.json()
    gw.sendgrid = channels
    return gw


def published(gw, topic: str) -> list[Any]:
    return [
        Envelope.parse(p["headers"], p["value"]).data
        for p in gw.broker.published
        if p["topic"] == topic
    ]


def test_the_api_key_is_sealed_and_never_answered(sg) -> None:
    assert sg.view["has_api_key"] is True
    assert API_KEY not in json.dumps(sg.view)
    stored = sg.sendgrid.channels["ten_a"]
    assert API_KEY not in repr(stored)
    opened = sg.keyring.open(stored.api_key, tenant_id="ten_a", purpose="sendgrid.api_key")
    assert opened.reveal() == API_KEY
    again = sg.client.get("/v1/channels/sendgrid", headers=sg.as_tenant("key-a")).json()
    assert again["api_key_fingerprint"] == sg.view["api_key_fingerprint"]
    assert again["webhooks"] == sg.view["webhooks"]
    assert (
        sg.view["webhooks"]["events"] == "http://gw.test/webhooks/sendgrid/events?tenant_id=ten_a"
    )


def test_a_malformed_key_is_422_and_a_missing_one_409(gw) -> None:
    gw.client.app.app.state.sendgrid = MemorySendGridChannels()
    body = {"from_email": "support@acme.test"}
    bad = gw.client.put(
        "/v1/channels/sendgrid", json={**body, "api_key": "nope"}, headers=gw.as_tenant()
    )
    assert bad.status_code == 422
    assert "nope" not in bad.text
    missing = gw.client.put("/v1/channels/sendgrid", json=body, headers=gw.as_tenant())
    assert missing.status_code == 409


def event(kind: str, event_id: str = "ev1", **extra: Any) -> dict[str, Any]:
    return {
        "email": "ann@example.com",
        "timestamp": int(time.time()),
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": "XMSGID.filterdrecv-1.0",
        "cf_message_id": MESSAGE,
        "cf_tenant_id": "ten_a",
        **extra,
    }


def post_events(
    gw,
    events: Any,
    *,
    key: Any = KEY,
    stamp: str | None = None,
    signed: bool = True,
    query: str = "?tenant_id=ten_a",
) -> Any:
    payload = json.dumps(events)
    stamp = stamp or str(int(time.time()))
    headers = {"Content-Type": "application/json"}
    if signed:
        signature = key.sign((stamp + payload).encode(), ec.ECDSA(hashes.SHA256()))
        headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(signature).decode()
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = stamp
    return gw.client.post("/webhooks/sendgrid/events" + query, content=payload, headers=headers)


def test_signed_events_are_reported_naming_our_message(sg) -> None:
    bounce = event("bounce", "ev2", status="5.1.1", reason="550 no such user", type="bounce")
    answer = post_events(sg, [event("delivered"), bounce, event("spamreport", "ev3")])

    assert answer.status_code == 204, answer.text
    reports = published(sg, topics.DELIVERY_STATUS)
    assert [(r.status, r.message_id, r.provider_message_id) for r in reports] == [
        ("delivered", MESSAGE, "XMSGID"),
        ("bounced", MESSAGE, "XMSGID"),
    ]
    assert isinstance(reports[1], DeliveryStatusReported)
    assert (reports[1].error_code, reports[1].error_message) == ("5.1.1", "550 no such user")
    assert reports[0].provider == "sendgrid" and reports[0].event_id == "sendgrid:ev1"


def test_the_tenant_may_be_named_by_the_custom_args(sg) -> None:
    assert post_events(sg, [event("delivered")], query="").status_code == 204
    assert len(published(sg, topics.DELIVERY_STATUS)) == 1


def test_a_retried_event_is_published_once(sg) -> None:
    post_events(sg, [event("delivered")])
    assert post_events(sg, [event("delivered")]).status_code == 204
    assert len(published(sg, topics.DELIVERY_STATUS)) == 1


@pytest.mark.parametrize(
    "how", ["forged", "unsigned", "stale", "future", "another tenant", "garbage signature"]
)
def test_unverified_events_are_403_and_publish_nothing(sg, expect_problem, how: str) -> None:
    events = [event("delivered")]
    if how == "forged":
        answer = post_events(sg, events, key=OTHER_KEY)
    elif how == "unsigned":
        answer = post_events(sg, events, signed=False)
    elif how == "stale":
        answer = post_events(sg, events, stamp=str(int(time.time()) - 3600))
    elif how == "future":
        answer = post_events(sg, events, stamp=str(int(time.time()) + 3600))
    elif how == "another tenant":
        answer = post_events(sg, events, query="?tenant_id=ten_b")
    else:
        answer = sg.client.post(
            "/webhooks/sendgrid/events?tenant_id=ten_a",
            content=json.dumps(events),
            headers={
                "Content-Type": "application/json",
                "X-Twilio-Email-Event-Webhook-Signature": "%%%not base64",
                "X-Twilio-Email-Event-Webhook-Timestamp": str(int(time.time())),
            },
        )
    expect_problem(answer, 403)
    assert sg.broker.published == []


def inbound_url(gw) -> str:
    return str(gw.view["webhooks"]["inbound_parse"]).removeprefix("http://gw.test")


def parse_form(**extra: str) -> dict[str, str]:
    headers = (
        "Message-ID: <abc@mail.example.com>\n"
        f"In-Reply-To: <{MESSAGE}@acme.test>\n"
        f"References: <{MESSAGE}@acme.test>\n"
        "Subject: Re: Your order\n"
    )
    return {
        "headers": headers,
        "from": "Ann <Ann@Example.com>",
        "to": "help@reply.acme.test",
        "subject": "Re: Your order",
        "text": "Thanks!\n\nOn Wed, Dec 2, 2026, support@acme.test wrote:\n> It shipped.\n",
        "envelope": json.dumps({"to": ["help@reply.acme.test"], "from": "ann@example.com"}),
        "charsets": "{}",
        "SPF": "pass",
        "attachments": "1",
        "attachment-info": json.dumps(
            {"attachment1": {"filename": "a.pdf", "type": "application/pdf"}}
        ),
        **extra,
    }


def post_inbound(gw, url: str, fields: dict[str, str]) -> Any:
    return gw.client.post(
        url, data=fields, files={"attachment1": ("a.pdf", b"%PDF", "application/pdf")}
    )


def test_a_reply_is_threaded_into_the_conversation_of_the_message_it_answers(sg) -> None:
    sg.sendgrid.messages[MESSAGE] = {"tenant_id": "ten_a", "conversation_id": "cnv_thread"}
    answer = post_inbound(sg, inbound_url(sg), parse_form())

    assert answer.status_code == 200, answer.text
    [trigger] = published(sg, topics.TRIGGERS)
    assert isinstance(trigger, TriggerReceived)
    assert trigger.channel == "email" and trigger.conversation_id == "cnv_thread"
    assert trigger.trigger_type == "Incoming Message"
    assert trigger.message is not None
    assert trigger.message.body == "Thanks!"  # the quoted thread left out
    assert trigger.message.contact_address == "ann@example.com"
    assert trigger.message.subject == "Re: Your order"
    assert trigger.message.provider_message_id == "<abc@mail.example.com>"
    assert [m.url for m in trigger.message.media] == ["attachment:1/a.pdf"]
    assert trigger.payload["subject"] == "Re: Your order"
    assert trigger.customer == {"email": "ann@example.com", "name": "Ann"}


def test_an_email_answering_nothing_of_ours_is_the_senders_conversation(sg) -> None:
    post_inbound(sg, inbound_url(sg), parse_form())  # no such message: not threaded
    [trigger] = published(sg, topics.TRIGGERS)
    expected = conversation_id_for("ten_a", "email", "ann@example.com", "help@reply.acme.test")
    assert trigger.conversation_id == expected


def test_a_redelivered_email_is_published_once(sg) -> None:
    post_inbound(sg, inbound_url(sg), parse_form())
    assert post_inbound(sg, inbound_url(sg), parse_form()).status_code == 200
    assert len(published(sg, topics.TRIGGERS)) == 1


def test_a_wrong_inbound_secret_is_403(sg, expect_problem) -> None:
    url = inbound_url(sg).rsplit("/", 1)[0] + "/not-the-secret"
    expect_problem(post_inbound(sg, url, parse_form()), 403)
    other = inbound_url(sg).replace("/ten_a/", "/ten_b/")
    expect_problem(post_inbound(sg, other, parse_form()), 403)
    assert sg.broker.published == []


@pytest.mark.parametrize(
    "fields",
    [
        {"from": ""},
        {"from": "no address"},
        {"envelope": "{not json", "to": ""},
        {"attachments": "many"},
        {"text": "nul \x00 here"},
    ],
)
def test_malformed_posts_are_422(sg, expect_problem, fields: dict[str, str]) -> None:
    expect_problem(post_inbound(sg, inbound_url(sg), parse_form(**fields)), 422)
    assert sg.broker.published == []


def test_a_body_that_is_not_multipart_is_refused(sg) -> None:
    answer = sg.client.post(
        inbound_url(sg),
        content=b"--x\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert answer.status_code == 422, answer.text
    plain = sg.client.post(inbound_url(sg), content=b"{}", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415


def test_an_oversized_post_is_413(sg) -> None:
    big = parse_form(text="x" * (2 << 20))
    assert post_inbound(sg, inbound_url(sg), big).status_code == 413
    assert sg.broker.published == []


@pytest.mark.parametrize("key", ["not base64 !", base64.b64encode(b"junk").decode(), "RSA"])
def test_a_key_that_is_not_sendgrids_is_422(gw, key: str) -> None:
    gw.client.app.app.state.sendgrid = MemorySendGridChannels()
    if key == "RSA":
        from cryptography.hazmat.primitives.asymmetric import rsa

        der = (
            rsa.generate_private_key(65537, 2048)
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        key = base64.b64encode(der).decode()
    answer = gw.client.put(
        "/v1/channels/sendgrid",
        json={"api_key": API_KEY, "from_email": "a@acme.test", "event_webhook_public_key": key},
        headers=gw.as_tenant(),
    )
    assert answer.status_code == 422, answer.text
