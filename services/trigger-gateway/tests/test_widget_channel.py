"""The chat widget channel: a tenant's widgets (the secret answered once, then only its
fingerprint), visitor sessions, signed messages published as one TriggerReceived each, and
everything else refused with 403 and nothing published; identity verification; CORS."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from contracts import Envelope, topics
from contracts.events import InboundMessage, TriggerReceived
from trigger_gateway.domain import widget_signing as signing

pytestmark = pytest.mark.usefixtures("chat")
ORIGIN = "https://shop.example.com"


def create_widget(gw: Any, **spec: Any) -> dict[str, Any]:
    spec.setdefault("allowed_origins", [ORIGIN])
    response = gw.client.post("/v1/channels/widgets", json=spec, headers=gw.as_tenant())
    assert response.status_code == 201, response.text
    widget: dict[str, Any] = response.json()
    return widget


def start_session(gw: Any, key: str, **start: Any) -> dict[str, Any]:
    response = gw.client.post(f"/widget/v1/{key}/sessions", json=start)
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()
    return session


def signed(session: dict[str, Any], body: bytes, *, at: float | None = None) -> dict[str, str]:
    t = int(time.time() if at is None else at)
    return {
        "Content-Type": "application/json",
        "X-Widget-Session": session["session_id"],
        "X-Widget-Signature": signing.signature_header(session["session_key"], t, body),
    }


def message(text: str = "where is my order?", client_id: str = "m-1") -> bytes:
    return json.dumps({"client_message_id": client_id, "text": text}).encode()


def post(gw: Any, key: str, body: bytes, headers: dict[str, str]) -> Any:
    return gw.client.post(f"/widget/v1/{key}/messages", content=body, headers=headers)


def triggers(gw: Any) -> list[tuple[bytes, TriggerReceived]]:
    found = []
    for sent in gw.broker.published:
        assert sent["topic"] == topics.TRIGGERS
        event = Envelope.parse(sent["headers"], sent["value"]).data
        assert isinstance(event, TriggerReceived)
        found.append((sent["key"], event))
    return found


def test_a_widget_s_secret_is_answered_once_then_only_its_fingerprint(gw) -> None:
    created = create_widget(gw, name="Shop", require_identity=False)
    secret, key = created["secret"], created["widget_key"]
    assert secret.startswith("wsk_") and len(secret) == 4 + 64
    assert key.startswith("wk_")
    assert created["demo_url"] == f"http://gw.test/widget/demo?key={key}"
    one = gw.client.get(f"/v1/channels/widgets/{key}", headers=gw.as_tenant())
    listed = gw.client.get("/v1/channels/widgets", headers=gw.as_tenant())
    changed = gw.client.patch(
        f"/v1/channels/widgets/{key}", json={"name": "Shop 2"}, headers=gw.as_tenant()
    )
    for answer in (one, listed, changed):
        assert answer.status_code == 200, answer.text
        assert secret not in answer.text and "secret" not in answer.json()
    assert one.json()["secret_fingerprint"] == created["secret_fingerprint"]
    assert changed.json()["name"] == "Shop 2"
    assert listed.json()["widgets"][0]["widget_key"] == key
    other_tenant = gw.client.get(f"/v1/channels/widgets/{key}", headers=gw.as_tenant("key-b"))
    assert other_tenant.status_code == 404


def test_an_allowed_origin_is_an_origin_not_a_url(gw, expect_problem) -> None:
    response = gw.client.post(
        "/v1/channels/widgets",
        json={"allowed_origins": ["https://shop.example.com/path"]},
        headers=gw.as_tenant(),
    )
    assert expect_problem(response, 422)["errors"][0]["name"] == "body.allowed_origins[0]"


def test_a_signed_message_is_one_trigger_on_the_visitor_s_conversation(gw, chat) -> None:
    key = create_widget(gw)["widget_key"]
    session = start_session(gw, key, name="Ada")
    assert session["conversation_id"] == signing.conversation_of(
        "ten_a", key, session["visitor_id"]
    )
    body = message()
    accepted = post(gw, key, body, signed(session, body))
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["duplicate"] is False
    ((partition_key, trigger),) = triggers(gw)
    assert partition_key == session["conversation_id"].encode()
    assert trigger.tenant_id == "ten_a"
    assert trigger.trigger_type == "Incoming Message"
    assert trigger.channel == "chat"
    assert trigger.conversation_id == session["conversation_id"]
    assert trigger.payload["text"] == "where is my order?"
    assert trigger.payload["identity_verified"] is False
    assert trigger.customer == {"id": session["visitor_id"], "name": "Ada"}
    assert trigger.message == InboundMessage(
        contact_address=session["visitor_id"],
        tenant_address=key,
        body="where is my order?",
        provider="widget",
        provider_message_id="m-1",
    )


def test_the_same_signed_message_again_is_a_duplicate_and_not_published_again(gw) -> None:
    key = create_widget(gw)["widget_key"]
    session = start_session(gw, key)
    body = message()
    headers = signed(session, body)
    assert post(gw, key, body, headers).status_code == 202
    replayed = post(gw, key, body, headers)  # the same request, replayed
    resent = post(gw, key, body, signed(session, body, at=time.time() + 1))  # a retry
    for answer in (replayed, resent):
        assert answer.status_code == 200, answer.text
        assert answer.json()["duplicate"] is True
    assert len(triggers(gw)) == 1


def _forgeries(session: dict[str, Any], other: dict[str, Any]) -> dict[str, dict[str, str]]:
    body = message()
    stale = time.time() - signing.WINDOW_SECONDS - 5
    return {
        "unsigned": {"Content-Type": "application/json", "X-Widget-Session": session["session_id"]},
        "no session": {
            "Content-Type": "application/json",
            "X-Widget-Signature": signing.signature_header(session["session_key"], 1, body),
        },
        "wrong key": signed({**session, "session_key": "guessed"}, body),
        "another session's key": signed({**session, "session_key": other["session_key"]}, body),
        "another body": signed(session, message("something else")),
        "stale": signed(session, body, at=stale),
        "from the future": signed(session, body, at=time.time() + signing.WINDOW_SECONDS + 5),
        "tampered session": signed({**session, "session_id": session["session_id"] + "x"}, body),
        "garbled header": {**signed(session, body), "X-Widget-Signature": "v1=,t=soon"},
    }


def test_forged_unsigned_and_stale_messages_are_403_and_publish_nothing(gw, expect_problem) -> None:
    key = create_widget(gw)["widget_key"]
    session, other = start_session(gw, key), start_session(gw, key)
    for name, headers in _forgeries(session, other).items():
        refused = post(gw, key, message(), headers)
        assert expect_problem(refused, 403)["detail"], name
    assert triggers(gw) == []


def test_a_session_of_another_widget_or_expired_is_403(gw, chat, expect_problem) -> None:
    mine, theirs = create_widget(gw), create_widget(gw)
    session = start_session(gw, theirs["widget_key"])
    body = message()
    assert expect_problem(post(gw, mine["widget_key"], body, signed(session, body)), 403)
    secret = mine["secret"]
    expired_id, _ = signing.issue_session(
        secret,
        tenant_id="ten_a",
        widget_key=mine["widget_key"],
        visitor_id="vis_" + "0" * 24,
        customer={},
        verified=False,
        now=time.time() - signing.SESSION_SECONDS - 1,
    )
    expired = {"session_id": expired_id, "session_key": signing.session_key(secret, expired_id)}
    problem = expect_problem(post(gw, mine["widget_key"], body, signed(expired, body)), 403)
    assert "expired" in problem["detail"]
    assert triggers(gw) == []


def test_a_rotated_secret_ends_the_sessions_signed_with_the_old_one(gw, expect_problem) -> None:
    created = create_widget(gw)
    key = created["widget_key"]
    session = start_session(gw, key)
    rotated = gw.client.post(f"/v1/channels/widgets/{key}/secret", headers=gw.as_tenant())
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["secret_fingerprint"] != created["secret_fingerprint"]
    body = message()
    expect_problem(post(gw, key, body, signed(session, body)), 403)
    fresh = start_session(gw, key)
    assert post(gw, key, body, signed(fresh, body)).status_code == 202


def test_an_unknown_widget_is_404_and_malformed_is_422(gw, expect_problem) -> None:
    expect_problem(gw.client.post("/widget/v1/wk_nope/sessions", json={}), 404)
    expect_problem(post(gw, "wk_nope", message(), {"Content-Type": "application/json"}), 404)
    key = create_widget(gw)["widget_key"]
    session = start_session(gw, key)
    body = json.dumps({"client_message_id": "bad id with spaces", "text": ""}).encode()
    problem = expect_problem(post(gw, key, body, signed(session, body)), 422)
    assert {e["name"] for e in problem["errors"]} == {
        "body.client_message_id",
        "body.text",
    }


def test_an_oversized_message_is_413(gw, expect_problem) -> None:
    key = create_widget(gw)["widget_key"]
    session = start_session(gw, key)
    body = message("x" * (2 << 20))
    expect_problem(post(gw, key, body, signed(session, body)), 413)


def test_an_anonymous_visitor_comes_back_to_its_conversation_with_its_token(
    gw, expect_problem
) -> None:
    key = create_widget(gw)["widget_key"]
    first = start_session(gw, key)
    again = start_session(
        gw, key, visitor_id=first["visitor_id"], visitor_token=first["visitor_token"]
    )
    assert again["conversation_id"] == first["conversation_id"]
    assert again["session_id"] != first["session_id"]
    forged = gw.client.post(
        f"/widget/v1/{key}/sessions",
        json={"visitor_id": first["visitor_id"], "visitor_token": "guess"},
    )
    expect_problem(forged, 403)


def test_identity_verification(gw, expect_problem) -> None:
    created = create_widget(gw, require_identity=True)
    key, secret = created["widget_key"], created["secret"]
    expect_problem(gw.client.post(f"/widget/v1/{key}/sessions", json={"name": "Eve"}), 403)
    wrong = {"external_id": "u-42", "user_hash": signing.identity_hash(secret, "u-43")}
    expect_problem(gw.client.post(f"/widget/v1/{key}/sessions", json={"user": wrong}), 403)
    user = {
        "external_id": "u-42",
        "user_hash": signing.identity_hash(secret, "u-42"),
        "name": "Ada",
        "email": "ada@example.com",
    }
    session = start_session(gw, key, user=user)
    assert session["identity_verified"] is True and session["visitor_token"] is None
    body = message()
    assert post(gw, key, body, signed(session, body)).status_code == 202
    ((_, trigger),) = triggers(gw)
    assert trigger.customer == {"id": "u-42", "name": "Ada", "email": "ada@example.com"}
    assert trigger.payload["identity_verified"] is True
    assert trigger.message is not None and trigger.message.contact_address == "user:u-42"


def test_the_tenant_s_backend_writes_for_a_user_with_the_secret_itself(gw, expect_problem) -> None:
    created = create_widget(gw)
    key, secret = created["widget_key"], created["secret"]
    body = json.dumps({"client_message_id": "srv-1", "text": "hi", "external_id": "u-42"}).encode()
    url = f"/widget/v1/{key}/server-messages"
    header = {"Content-Type": "application/json"}
    accepted = gw.client.post(
        url,
        content=body,
        headers={
            **header,
            "X-Widget-Signature": signing.signature_header(secret, int(time.time()), body),
        },
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["conversation_id"] == signing.conversation_of("ten_a", key, "user:u-42")
    session = start_session(gw, key)
    with_session_key = signing.signature_header(session["session_key"], int(time.time()), body)
    refused = gw.client.post(
        url, content=body, headers={**header, "X-Widget-Signature": with_session_key}
    )
    expect_problem(refused, 403)
    assert len(triggers(gw)) == 1


def test_the_secret_never_reaches_a_visitor(gw) -> None:
    created = create_widget(gw)
    key, secret = created["widget_key"], created["secret"]
    session = gw.client.post(f"/widget/v1/{key}/sessions", json={})
    body = message()
    answers = [
        session,
        post(gw, key, body, signed(session.json(), body)),
        gw.client.post(
            f"/widget/v1/{key}/stream-tokens", content=b"", headers=signed(session.json(), b"")
        ),
        gw.client.get(f"/widget/demo?key={key}"),
        gw.client.get("/widget/v1/widget.js"),
    ]
    for answer in answers:
        assert answer.status_code < 300, answer.text
        assert secret not in answer.text
        assert secret[4:] not in answer.text
    for sent in gw.broker.published:
        assert secret.encode() not in sent["value"] and secret not in json.dumps(sent["headers"])


def test_cors_preflight_from_an_allowed_origin_and_refusal_from_another(gw, expect_problem) -> None:
    key = create_widget(gw)["widget_key"]
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-widget-session,x-widget-signature",
    }
    answer = gw.client.options(f"/widget/v1/{key}/messages", headers=preflight)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "X-Widget-Signature" in answer.headers["access-control-allow-headers"]
    assert "POST" in answer.headers["access-control-allow-methods"]
    evil = {**preflight, "Origin": "https://evil.example.com"}
    refused = gw.client.options(f"/widget/v1/{key}/messages", headers=evil)
    assert expect_problem(refused, 403)
    assert "access-control-allow-origin" not in refused.headers
    own = gw.client.options(
        f"/widget/v1/{key}/sessions", headers={**preflight, "Origin": "http://gw.test"}
    )
    assert own.status_code == 204  # the gateway's own demo page


def test_a_browser_request_from_another_origin_publishes_nothing(gw, expect_problem) -> None:
    key = create_widget(gw)["widget_key"]
    session = start_session(gw, key)
    body = message()
    evil = post(gw, key, body, {**signed(session, body), "Origin": "https://evil.example.com"})
    expect_problem(evil, 403)
    assert triggers(gw) == []
    allowed = post(gw, key, body, {**signed(session, body), "Origin": ORIGIN})
    assert allowed.status_code == 202
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    forged = post(gw, key, message(client_id="m-2"), {**signed(session, body), "Origin": ORIGIN})
    assert expect_problem(forged, 403)
    assert forged.headers["access-control-allow-origin"] == ORIGIN  # the page may read why


def test_without_a_key_encryption_key_widgets_cannot_be_made(gw, expect_problem) -> None:
    app = gw.client.app.app
    app.state.gateway = type(app.state.gateway)(**{**vars(app.state.gateway), "keyring": None})
    expect_problem(gw.client.post("/v1/channels/widgets", json={}, headers=gw.as_tenant()), 503)
