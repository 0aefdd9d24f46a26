"""SendGrid's part, driven by the official sendgrid SDK over real HTTP: Mail Send's answers
(202 with X-Message-Id, SendGrid's 400/401/413/429 bodies), the Event Webhook signed as
SendGrid signs (the SDK's EventWebhook verifies it), magic recipients, and Inbound Parse."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.eventwebhook import EventWebhook

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"


@pytest.fixture
def account(sandbox: httpx.Client, receiver: Any) -> dict[str, Any]:
    made = sandbox.post(
        "/sandbox/sendgrid/accounts",
        json={
            "event_webhook_url": receiver.url + "/sendgrid/events",
            "parse_hosts": {"reply.acme.test": receiver.url + "/sendgrid/parse"},
        },
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def client(sandbox: httpx.Client, api_key: str) -> SendGridAPIClient:
    return SendGridAPIClient(api_key, host=str(sandbox.base_url).rstrip("/"))


def mail(to: str, **extra: Any) -> dict[str, Any]:
    return {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": "support@acme.test", "name": "Acme"},
        "subject": "Your order",
        "content": [{"type": "text/plain", "value": "It shipped."}],
        **extra,
    }


def errors(exc: HTTPError) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(exc.body)["errors"]
    return found


def test_mail_send_answers_202_with_a_message_id(
    sandbox: httpx.Client, account: dict[str, Any]
) -> None:
    sent = client(sandbox, account["api_key"]).send(
        mail("ann@example.com", custom_args={"message_id": "msg_1"})
    )

    assert sent.status_code == 202
    assert sent.body == b""
    message_id = sent.headers["X-Message-Id"]
    record = sandbox.get(f"/sandbox/sendgrid/messages/{message_id}").json()
    assert record["recipients"] == ["ann@example.com"]
    assert record["request"]["custom_args"] == {"message_id": "msg_1"}


def test_an_unknown_key_is_401_with_sendgrids_body(sandbox: httpx.Client) -> None:
    with pytest.raises(HTTPError) as refused:
        client(sandbox, "SG.unknown.key").send(mail("ann@example.com"))

    assert refused.value.status_code == 401
    assert errors(refused.value) == [
        {
            "message": "The provided authorization grant is invalid, expired, or revoked",
            "field": None,
            "help": None,
        }
    ]


@pytest.mark.parametrize(
    ("left_out", "field"),
    [
        ("personalizations", "personalizations"),
        ("from", "from.email"),
        ("subject", "subject"),
        ("content", "content"),
    ],
)
def test_required_fields_are_400_naming_the_field(
    sandbox: httpx.Client, account: dict[str, Any], left_out: str, field: str
) -> None:
    body = mail("ann@example.com")
    del body[left_out]
    with pytest.raises(HTTPError) as refused:
        client(sandbox, account["api_key"]).send(body)

    assert refused.value.status_code == 400
    assert [e["field"] for e in errors(refused.value)] == [field]


def test_a_template_needs_no_subject_or_content(
    sandbox: httpx.Client, account: dict[str, Any]
) -> None:
    body = mail("ann@example.com", template_id="d-123")
    del body["subject"], body["content"]
    assert client(sandbox, account["api_key"]).send(body).status_code == 202


def test_an_invalid_recipient_and_a_reserved_header_are_400(
    sandbox: httpx.Client, account: dict[str, Any]
) -> None:
    with pytest.raises(HTTPError) as refused:
        client(sandbox, account["api_key"]).send(mail("not-an-address", headers={"Subject": "x"}))
    fields = [e["field"] for e in errors(refused.value)]
    assert fields == ["personalizations.0.to.0.email", "headers.Subject"]


def test_over_large_is_413(sandbox: httpx.Client, account: dict[str, Any]) -> None:
    big = mail("ann@example.com", content=[{"type": "text/plain", "value": "x" * 70_000}])
    with pytest.raises(HTTPError) as refused:
        client(sandbox, account["api_key"]).send(big)
    assert refused.value.status_code == 413


def test_over_the_rate_is_429_with_ratelimit_headers(sandbox: httpx.Client) -> None:
    made = sandbox.post("/sandbox/sendgrid/accounts", json={"rps": 1}).json()
    sendgrid = client(sandbox, made["api_key"])
    sendgrid.send(mail("ann@example.com"))
    with pytest.raises(HTTPError) as refused:
        sendgrid.send(mail("ann@example.com"))

    assert refused.value.status_code == 429
    assert errors(refused.value)[0]["message"] == "too many requests"
    headers = refused.value.headers
    assert headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) > 0
    assert headers["X-RateLimit-Limit"] == "1"


def verified_events(received: Any, public_key: str) -> list[dict[str, Any]]:
    payload = received.body.decode()
    assert EventWebhook().verify_signature(
        payload,
        received.headers[SIGNATURE],
        received.headers[TIMESTAMP],
        EventWebhook().convert_public_key_to_ecdsa(public_key),
    )
    events: list[dict[str, Any]] = json.loads(payload)
    return events


def test_events_are_signed_as_sendgrid_signs_with_custom_args_flattened(
    sandbox: httpx.Client,
    account: dict[str, Any],
    receiver: Any,
    wait_until: Callable[..., None],
) -> None:
    sent = client(sandbox, account["api_key"]).send(
        mail("ann+open@example.com", custom_args={"message_id": "msg_7"}, categories=["orders"])
    )
    message_id = sent.headers["X-Message-Id"]

    posts = receiver.wait_for("/sendgrid/events", 4)
    events = [e for p in posts for e in verified_events(p, account["public_key"])]

    assert [e["event"] for e in events] == ["processed", "delivered", "open", "click"]
    assert all(e["message_id"] == "msg_7" for e in events)
    assert all(e["sg_message_id"].startswith(message_id + ".") for e in events)
    assert len({e["sg_event_id"] for e in events}) == 4
    assert events[0]["category"] == ["orders"]
    signed = sandbox.get(
        "/v3/user/webhooks/event/settings/signed",
        headers={"Authorization": f"Bearer {account['api_key']}"},
    )
    assert signed.json()["public_key"] == account["public_key"]


@pytest.mark.parametrize(
    ("recipient", "kinds"),
    [
        ("bob+bounce@example.com", ["processed", "bounce"]),
        ("bob+drop@example.com", ["processed", "dropped"]),
        ("bob+defer@example.com", ["processed", "deferred", "delivered"]),
    ],
)
def test_magic_recipients(
    sandbox: httpx.Client,
    account: dict[str, Any],
    receiver: Any,
    recipient: str,
    kinds: list[str],
) -> None:
    client(sandbox, account["api_key"]).send(mail(recipient))
    posts = receiver.wait_for("/sendgrid/events", len(kinds))
    events = [e for p in posts for e in verified_events(p, account["public_key"])]
    assert [e["event"] for e in events] == kinds


def test_a_forged_event_does_not_verify(
    sandbox: httpx.Client, account: dict[str, Any], receiver: Any
) -> None:
    sent = client(sandbox, account["api_key"]).send(mail("carl@example.com"))
    receiver.wait_for("/sendgrid/events", 2)
    message_id = sent.headers["X-Message-Id"]
    forged = sandbox.post(
        f"/sandbox/sendgrid/messages/{message_id}/events",
        json={"event": "bounce", "signing": "wrong"},
    )
    assert forged.status_code == 200
    [post] = receiver.wait_for("/sendgrid/events", 3)[2:]
    assert not EventWebhook().verify_signature(
        post.body.decode(),
        post.headers[SIGNATURE],
        post.headers[TIMESTAMP],
        EventWebhook().convert_public_key_to_ecdsa(account["public_key"]),
    )


def test_inbound_parse_posts_a_reply_threaded_to_the_mail_sent(
    sandbox: httpx.Client, account: dict[str, Any], receiver: Any
) -> None:
    sent = client(sandbox, account["api_key"]).send(
        mail("dana@example.com", headers={"Message-ID": "<msg_1@acme.test>"})
    )
    answered = sandbox.post(
        "/sandbox/sendgrid/inbound",
        json={
            "from": "dana@example.com",
            "to": "support@reply.acme.test",
            "text": "Thanks!",
            "reply_to": sent.headers["X-Message-Id"],
            "attachments": [{"filename": "a.txt", "type": "text/plain", "content": "aGk="}],
        },
    )

    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == 200
    [post] = receiver.at("/sendgrid/parse")
    assert post.headers["content-type"].startswith("multipart/form-data")
    form = post.form
    assert "In-Reply-To: <msg_1@acme.test>" in form["headers"]
    assert "References: <msg_1@acme.test>" in form["headers"]
    assert form["subject"] == "Re: Your order"
    assert form["text"].startswith("Thanks!\n\nOn ")
    assert "> It shipped." in form["text"]
    assert json.loads(form["envelope"]) == {
        "to": ["support@reply.acme.test"],
        "from": "dana@example.com",
    }
    assert form["attachments"] == "1" and form["SPF"] == "pass"
    assert json.loads(form["attachment-info"])["attachment1"]["filename"] == "a.txt"


def test_inbound_parse_is_multipart_without_attachments_too(
    sandbox: httpx.Client, account: dict[str, Any], receiver: Any
) -> None:
    answered = sandbox.post(
        "/sandbox/sendgrid/inbound",
        json={
            "from": "eve@example.com",
            "to": "help@reply.acme.test",
            "subject": "Hi",
            "text": "x",
        },
    )
    assert answered.json()["status"] == 200
    [post] = receiver.at("/sendgrid/parse")
    assert post.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert post.form["subject"] == "Hi" and post.form["attachments"] == "0"
    assert "Message-ID: " + answered.json()["message_id"] in post.form["headers"]
