"""The reply stream: what the client missed from the message log, then live replies from the
replies topic's tail, each once, with its message id; a stream token of the conversation or
403; the stream ends when the client goes away."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from contracts import Envelope, topics
from contracts.events import ReplySent
from servicekit.delivery import Consumed
from trigger_gateway.adapters.reply_feed import QUEUE_SIZE, Reply, ReplyFeed
from trigger_gateway.domain import widget_signing as signing

pytestmark = pytest.mark.usefixtures("chat")


def session_of(gw: Any) -> tuple[str, dict[str, Any]]:
    created = gw.client.post("/v1/channels/widgets", json={}, headers=gw.as_tenant())
    key: str = created.json()["widget_key"]
    session = gw.client.post(f"/widget/v1/{key}/sessions", json={"name": "Ada"})
    assert session.status_code == 201, session.text
    return key, session.json()


def reply(conversation_id: str, message_id: str, text: str, tenant: str = "ten_a") -> Consumed:
    event = ReplySent(
        notification_id="ntf_" + message_id,
        tenant_id=tenant,
        conversation_id=conversation_id,
        execution_id="exe_1",
        message=text,
        sent_at=datetime.now(UTC),
        message_id=message_id,
        channel="chat",
    )
    envelope = Envelope.wrap(event, source="/test", tenant_id=tenant)
    return Consumed(
        topic=topics.REPLIES,
        partition=0,
        offset=0,
        key=conversation_id.encode(),
        headers=envelope.headers(),
        value=envelope.body(),
    )


def logged(conversation_id: str, message_id: str, text: str) -> dict[str, Any]:
    return {
        "_id": message_id,
        "tenant_id": "ten_a",
        "conversation_id": conversation_id,
        "direction": "outbound",
        "body": text,
        "created_at": datetime.now(UTC),
    }


class Stream:
    """A GET on the app as uvicorn would make it, read event by event."""

    def __init__(self, app: Any, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "server": ("gw.test", 80),
            "client": ("127.0.0.1", 5000),
            "root_path": "",
        }
        self.app = app
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.gone = asyncio.Event()
        self.status = 0
        self._buffer = b""

    async def __aenter__(self) -> Stream:
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            await self.sent.put(message)

        self.task = asyncio.create_task(self.app(self.scope, receive, send))
        start = await asyncio.wait_for(self.sent.get(), 5)
        self.status = start["status"]
        self.headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return self

    async def body(self) -> bytes:
        while True:
            message = await asyncio.wait_for(self.sent.get(), 5)
            if message.get("body") or not message.get("more_body", False):
                return bytes(message.get("body", b""))

    async def event(self) -> dict[str, str]:
        """The next event's fields (comments skipped)."""
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += await self.body()
        block, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        fields = {}
        for line in block.decode().split("\r\n"):
            name, _, value = line.partition(": ")
            if name and not line.startswith(":"):
                fields[name] = value
        return fields if fields else await self.event()

    async def __aexit__(self, *exc: object) -> None:
        self.gone.set()
        await asyncio.wait_for(self.task, 5)


def app_of(gw: Any) -> Any:
    return gw.client.app  # the trigger ingress in front of FastAPI, as the server runs it


async def test_missed_replies_then_live_ones_each_once_with_its_message_id(gw, chat) -> None:
    _, session = session_of(gw)
    conversation = session["conversation_id"]
    chat.replies.messages.append(logged(conversation, "msg_1", "logged before"))
    async with Stream(app_of(gw), session["events_url"]) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        first = await stream.event()
        assert (first["event"], first["id"]) == ("reply", "msg_1")
        assert json.loads(first["data"])["text"] == "logged before"
        await chat.feed.on_records(
            [
                reply(conversation, "msg_1", "logged before"),  # seen already: skipped
                reply("cnv_other", "msg_x", "someone else's"),
                reply(conversation, "msg_2", "live", tenant="ten_b"),  # another tenant's
                reply(conversation, "msg_3", "Hi Ada!"),
            ]
        )
        live = await stream.event()
        assert live["id"] == "msg_3"
        assert json.loads(live["data"]) == {
            "id": "msg_3",
            "text": "Hi Ada!",
            "sent_at": json.loads(live["data"])["sent_at"],
        }
    assert chat.feed.streams == 0  # the client went away: unsubscribed


async def test_a_reconnect_with_last_event_id_gets_only_the_later_replies(gw, chat) -> None:
    _, session = session_of(gw)
    conversation = session["conversation_id"]
    for n in (1, 2, 3):
        chat.replies.messages.append(logged(conversation, f"msg_{n}", f"reply {n}"))
    headers = {"Last-Event-ID": "msg_1"}
    async with Stream(app_of(gw), session["events_url"], headers) as stream:
        assert [(await stream.event())["id"] for _ in range(2)] == ["msg_2", "msg_3"]
    resumed_by_query = session["events_url"] + "&last_event_id=msg_2"
    async with Stream(app_of(gw), resumed_by_query) as stream:
        assert (await stream.event())["id"] == "msg_3"


async def test_a_stream_needs_a_stream_token_of_its_conversation(gw, chat) -> None:
    key, session = session_of(gw)
    _, other = session_of(gw)
    base = f"/widget/v1/{key}/conversations/{session['conversation_id']}/events"
    token_of_other = other["events_url"].split("token=")[1]
    for url in (base, base + "?token=st1.forged.token", base + "?token=" + token_of_other):
        async with Stream(app_of(gw), url) as stream:
            assert stream.status == 403
            assert json.loads(await stream.body())["status"] == 403
    assert chat.feed.streams == 0


async def test_a_stream_token_from_the_session_signed_like_a_message(gw, chat) -> None:
    key, session = session_of(gw)
    headers = {
        "X-Widget-Session": session["session_id"],
        "X-Widget-Signature": signing.signature_header(session["session_key"], 2**31, b""),
    }
    stale = gw.client.post(f"/widget/v1/{key}/stream-tokens", headers=headers)
    assert stale.status_code == 403


def test_a_stream_that_falls_behind_is_closed_not_buffered_without_end() -> None:
    feed = ReplyFeed()
    subscription = feed.subscribe("ten_a", "cnv_1")
    for n in range(QUEUE_SIZE + 5):
        subscription.offer(Reply(f"msg_{n}", "cnv_1", "", datetime.now(UTC)))
    assert subscription.closed and feed.streams == 0
