"""Live replies for the reply streams open in this process.

Every gateway process tails `connectflo.replies.v1` (servicekit.tail: every partition, from
the end, no group) and hands each ReplySent to the streams of its conversation that are open
here; a reply for a conversation nobody here follows costs a dict lookup on the record's key
(the conversation id), not a parse. What a stream misses (it was not open yet, it fell behind)
comes from MongoDB when it reconnects with Last-Event-ID: the topic is the fast path, the
message log the source of truth."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from contracts.events import ReplySent
from pydantic import ValidationError
from servicekit.delivery import Consumed

log = logging.getLogger(__name__)
QUEUE_SIZE = 100
"""Replies a stream may have waiting; past that it is closed (the client resumes)."""


@dataclass(frozen=True, slots=True)
class Reply:
    id: str
    conversation_id: str
    text: str
    sent_at: datetime


class Subscription:
    """One open stream's replies. ``next()`` is None once the subscription is closed (the
    feed shut down, or the stream fell ``QUEUE_SIZE`` replies behind)."""

    def __init__(self, feed: ReplyFeed, key: tuple[str, str]) -> None:
        self._feed = feed
        self.key = key
        self._queue: asyncio.Queue[Reply | None] = asyncio.Queue(QUEUE_SIZE + 1)
        self.closed = False

    def offer(self, reply: Reply) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= QUEUE_SIZE:
            log.warning("a reply stream fell %d replies behind: closed", QUEUE_SIZE)
            self.close()
            return
        self._queue.put_nowait(reply)

    async def next(self) -> Reply | None:
        return await self._queue.get()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)
        self._feed.unsubscribe(self)


class ReplyFeed:
    def __init__(self) -> None:
        self._open: dict[tuple[str, str], set[Subscription]] = {}
        self._conversations: dict[bytes, int] = {}  # record keys followed here, and by how many

    def subscribe(self, tenant_id: str, conversation_id: str) -> Subscription:
        subscription = Subscription(self, (tenant_id, conversation_id))
        self._open.setdefault(subscription.key, set()).add(subscription)
        key = conversation_id.encode()
        self._conversations[key] = self._conversations.get(key, 0) + 1
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self._open.get(subscription.key)
        if streams is None or subscription not in streams:
            return
        streams.discard(subscription)
        if not streams:
            del self._open[subscription.key]
        key = subscription.key[1].encode()
        self._conversations[key] -= 1
        if not self._conversations[key]:
            del self._conversations[key]

    @property
    def streams(self) -> int:
        return sum(len(s) for s in self._open.values())

    async def on_records(self, records: list[Consumed]) -> None:
        """The tail's records: each ReplySent offered to its conversation's streams here."""
        for record in records:
            if record.key not in self._conversations:
                continue
            if record.headers.get("ce_type") != ReplySent.event_type:
                continue
            try:
                event = ReplySent.model_validate_json(record.value)
            except ValidationError:
                log.warning("an undecodable ReplySent at %s:%s", record.partition, record.offset)
                continue
            if event.conversation_id is None:
                continue
            reply = Reply(
                id=event.message_id or event.notification_id,
                conversation_id=event.conversation_id,
                text=event.message,
                sent_at=event.sent_at,
            )
            for subscription in list(self._open.get((event.tenant_id, event.conversation_id), ())):
                subscription.offer(reply)

    def close(self) -> None:
        """Every stream ends (shutdown)."""
        for streams in list(self._open.values()):
            for subscription in list(streams):
                subscription.close()
