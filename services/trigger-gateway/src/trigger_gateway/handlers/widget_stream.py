"""A conversation's replies to its visitor, as server-sent events:
`GET /widget/v1/{widget_key}/conversations/{conversation_id}/events?token=<stream token>`.

Each outbound message is one event (`event: reply`, `id:` its message id, `data:` JSON with
`id`, `text`, `sent_at`). The stream first replays from MongoDB what the client has not seen
(after `Last-Event-ID`, sent by EventSource when it reconnects, or `last_event_id` in the query
for a new EventSource; without either, the conversation's latest replies), then goes on live
from this process's tail of the replies topic (adapters/reply_feed.py). It subscribes to the
live feed before it reads MongoDB, so a reply published in between is not lost, and skips the
ids it has sent. A comment every 15 s keeps proxies from closing it; it ends when the client
goes away, the server shuts down (sse-starlette ends it on uvicorn's exit signal) or it falls
100 replies behind (the client resumes with Last-Event-ID)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from trigger_gateway.adapters.reply_feed import Reply
from trigger_gateway.domain import widget_signing as signing
from trigger_gateway.handlers.problems import problem_responses
from trigger_gateway.handlers.widget_state import WidgetChannel, WidgetChannelDep, known_widget
from trigger_gateway.handlers.widget_visitors import refused

router = APIRouter(prefix="/widget/v1/{widget_key}", tags=["chat widget (public)"])
PING_SECONDS = 15
SEND_TIMEOUT_SECONDS = 30
EVENT = "reply"
MESSAGE_ID = Annotated[str | None, Query(max_length=200)]

_STREAM = {
    200: {
        "description": "The conversation's replies, one `reply` event each (`id:` the message "
        "id), as long as the client stays",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **problem_responses(403, 404, 422, 503),
}


def _event(message_id: str, text: str, sent_at: datetime) -> ServerSentEvent:
    data = {"id": message_id, "text": text, "sent_at": sent_at.isoformat()}
    return ServerSentEvent(data=json.dumps(data), event=EVENT, id=message_id)


def _logged(doc: dict[str, Any]) -> ServerSentEvent:
    return _event(str(doc["_id"]), str(doc.get("body") or ""), doc["created_at"])


@router.get("/conversations/{conversation_id}/events", responses=_STREAM)
async def reply_events(
    widget_key: str,
    conversation_id: str,
    channel: WidgetChannelDep,
    token: Annotated[
        str | None,
        Query(max_length=2000, description="A stream token of this conversation's session."),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", max_length=200, description="The last event seen."),
    ] = None,
    resume_after: Annotated[
        MESSAGE_ID,
        Query(
            alias="last_event_id",
            description="As `Last-Event-ID`, for a new EventSource (which cannot send it).",
        ),
    ] = None,
) -> EventSourceResponse:
    """The conversation's replies as server-sent events: what was missed, then live."""
    found = await known_widget(channel, widget_key)
    try:
        if not token:
            raise signing.Refused("no stream token (?token=): ask the session for one")
        signing.check_stream_token(
            found.secret.reveal(), widget_key, conversation_id, token, time.time()
        )
    except signing.Refused as reason:
        raise refused(reason) from None
    tenant = found.widget.tenant_id
    events = _replies(channel, tenant, conversation_id, last_event_id or resume_after)
    return EventSourceResponse(
        events, ping=PING_SECONDS, send_timeout=SEND_TIMEOUT_SECONDS, headers={"Vary": "Origin"}
    )


async def _replies(
    channel: WidgetChannel, tenant: str, conversation_id: str, last_id: str | None
) -> AsyncIterator[ServerSentEvent]:
    subscription = channel.feed.subscribe(tenant, conversation_id)  # before the replay
    sent: set[str] = set()
    try:
        for doc in await channel.replies.after(tenant, conversation_id, last_id):
            sent.add(str(doc["_id"]))
            yield _logged(doc)
        while True:
            reply: Reply | None = await subscription.next()
            if reply is None:
                return
            if reply.id in sent:
                continue
            sent.add(reply.id)
            yield _event(reply.id, reply.text, reply.sent_at)
    finally:
        subscription.close()
