"""The chat widget on the real stack: a visitor's session, a signed message, the workflow's reply
on the conversation's event stream (its id the reply's message id, as on the replies topic);
a reconnect with Last-Event-ID gets only the later replies; a forged message is 403 and
nothing reaches Kafka. Signed here with hmac as any client would (the scheme, not the
gateway's code)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from contracts import topics
from kafka_observer import KafkaObserver
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e


def signature(key: str, body: bytes, at: int | None = None) -> str:
    t = int(time.time()) if at is None else at
    mac = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class EventStream:
    """A conversation's replies as a browser's EventSource reads them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def read(self, http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        async with http.stream("GET", url, headers=headers, timeout=None) as response:
            assert response.status_code == 200, await response.aread()
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if not line:
                    if "data" in fields:
                        self.events.append({**fields, **json.loads(fields["data"])})
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value

    async def wait(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            if self.task is not None and self.task.done():
                self.task.result()
            assert time.monotonic() < deadline, f"{len(self.events)} of {count} events"
            await asyncio.sleep(0.005)
        return self.events


@contextlib.asynccontextmanager
async def stream(
    http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[EventStream]:
    events = EventStream()
    events.task = asyncio.create_task(events.read(http, url, headers or {}))
    try:
        yield events
    finally:
        events.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await events.task


async def post_message(
    http: httpx.AsyncClient, key: str, session: dict[str, Any], text: str, client_id: str
) -> httpx.Response:
    body = json.dumps({"client_message_id": client_id, "text": text}).encode()
    return await http.post(
        f"/widget/v1/{key}/messages",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Widget-Session": session["session_id"],
            "X-Widget-Signature": signature(session["session_key"], body),
        },
    )


async def test_a_signed_message_s_reply_arrives_on_the_stream_and_resumes_by_id(
    stack, http, api, tenant
) -> None:
    await api.activate(greeting_workflow())
    created = await http.post(
        "/v1/channels/widgets", json={"allowed_origins": []}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    key = created.json()["widget_key"]
    started = await http.post(f"/widget/v1/{key}/sessions", json={"name": "Ada"})
    assert started.status_code == 201, started.text
    session = started.json()
    observer = KafkaObserver(
        stack.kafka, [topics.TRIGGERS, topics.REPLIES], alive=stack.assert_alive
    )
    await observer.start()
    try:
        async with stream(http, session["events_url"]) as live:
            await asyncio.sleep(0.2)  # the stream is open (its replay is empty)
            began = time.monotonic()
            accepted = await post_message(http, key, session, "where is my order?", "m-1")
            assert accepted.status_code == 202, accepted.text
            (first,) = await live.wait(1)
            took = time.monotonic() - began
            assert first["event"] == "reply"
            assert first["text"] == "Hello Ada, about: where is my order?"
            second_sent = await post_message(http, key, session, "and my refund?", "m-2")
            assert second_sent.status_code == 202
            _, second = await live.wait(2)
            assert second["text"] == "Hello Ada, about: and my refund?"
        replies = await observer.wait_for(
            lambda m: (
                m.type == "ReplySent"
                and m.value.get("conversation_id") == session["conversation_id"]
            ),
            count=2,
        )
        assert [r.value["message_id"] for r in replies] == [first["id"], second["id"]]
        assert {r.key for r in replies} == {session["conversation_id"]}
        print(f"\nsigned message -> reply on the stream: {took * 1000:.0f} ms")

        resumed_url = session["events_url"]
        async with stream(http, resumed_url, {"Last-Event-ID": first["id"]}) as resumed:
            (only,) = await resumed.wait(1)
            await asyncio.sleep(0.3)
            assert only["id"] == second["id"] and len(resumed.events) == 1

        seen = len(observer.seen)
        body = json.dumps({"client_message_id": "m-3", "text": "forged"}).encode()
        forged = await http.post(
            f"/widget/v1/{key}/messages",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Widget-Session": session["session_id"],
                "X-Widget-Signature": signature("not-the-session-key", body),
            },
        )
        assert forged.status_code == 403, forged.text
        assert forged.headers["content-type"] == "application/problem+json"
        await asyncio.sleep(1.0)
        assert [
            m
            for m in observer.seen[seen:]
            if m.value.get("conversation_id") == session["conversation_id"]
        ] == []
    finally:
        await observer.stop()


async def test_the_inbound_message_is_logged_with_the_widget_s_ids(
    stack, http, api, tenant, mongo
) -> None:
    await api.activate(greeting_workflow())
    created = await http.post("/v1/channels/widgets", json={}, headers=tenant.headers)
    key = created.json()["widget_key"]
    session = (await http.post(f"/widget/v1/{key}/sessions", json={})).json()
    accepted = await post_message(http, key, session, "hello", "client-7")
    assert accepted.status_code == 202, accepted.text
    trigger = accepted.json()["trigger_id"]
    deadline = time.monotonic() + 30
    while True:
        logged = mongo.messages.find_one({"trigger_id": trigger})
        if logged is not None or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert logged is not None
    assert logged["conversation_id"] == session["conversation_id"]
    assert (logged["provider"], logged["provider_message_id"]) == ("widget", "client-7")
    assert (logged["from"], logged["to"]) == (session["visitor_id"], key)
