"""Slack and Teams posts of a batch (the Slack and Teams nodes): the tenants' connections read
at once, every post recorded (``notifications``, pending, naming this process) before it is
sent, the posts sent together, then what the providers answered written, one update per
post while its record is pending.

A redelivered request is answered from its record and posts nothing; one whose record is
still pending from another process (it stopped while posting: Slack or Teams may have the
message; neither takes an idempotency key) is answered ``DeliveryInterrupted``, so a post
is never sent twice.

``ChatOpsSending.tell`` posts a text for a tenant without a workflow node (an agent told
about an assignment): no record, the caller keeps its own."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from contracts.events import NotificationRequested

from notifier.adapters.chatops_accounts import (
    ChatOpsConnections,
    SlackConnection,
    TeamsConnection,
)
from notifier.adapters.slack_client import SlackPoster
from notifier.adapters.store import NotificationRepository
from notifier.adapters.teams_client import TeamsPoster
from notifier.domain.chatops import (
    KINDS,
    Post,
    PostFailed,
    SlackPost,
    TeamsPost,
    adaptive_card,
    plan_post,
    posted,
    targeted,
)
from notifier.domain.delivery import Delivery, Route, refused
from notifier.domain.errors import (
    ADDRESS_UNKNOWN,
    CHANNEL_NOT_CONNECTED,
    DeliveryError,
    failure,
    interruption,
)
from notifier.domain.lifecycle import PENDING, ours_to_send

log = logging.getLogger(__name__)
Document = dict[str, Any]
Ready = tuple[Delivery, Post, SlackConnection | TeamsConnection]


class ChatOpsSending:
    def __init__(
        self,
        records: NotificationRepository,
        connections: ChatOpsConnections,
        slack: SlackPoster,
        teams: TeamsPoster,
    ) -> None:
        self._records = records
        self._connections = connections
        self._slack = slack
        self._teams = teams
        self.process = uuid.uuid4().hex[:12]  # who records a pending post

    @staticmethod
    def handles(request: NotificationRequested) -> bool:
        return request.kind in KINDS

    async def deliver(
        self, requests: Sequence[NotificationRequested], now: datetime
    ) -> list[tuple[Delivery, str]]:
        """Each request's delivery as it ended and its outcome (sent, failed, duplicate)."""
        if not requests:
            return []
        planned = [plan_post(r, now) for r in requests]
        tenants_slack = {d.record["tenant_id"] for d, p in planned if isinstance(p, SlackPost)}
        tenants_teams = {d.record["tenant_id"] for d, p in planned if isinstance(p, TeamsPost)}
        slack, teams = await asyncio.gather(
            self._connections.slack(tenants_slack), self._connections.teams(tenants_teams)
        )
        deliveries: list[Delivery] = []
        posts: dict[str, tuple[Post, SlackConnection | TeamsConnection]] = {}
        for delivery, post in planned:
            if post is not None:
                tenant = delivery.record["tenant_id"]
                found = (slack if isinstance(post, SlackPost) else teams).get(tenant)
                delivery, ready = self._ready(delivery, post, found, now)
                if ready is not None:
                    posts[delivery.key] = (post, ready)
            deliveries.append(delivery)
        earlier = await self._records.record_many([d.record for d in deliveries])
        answers: list[tuple[Delivery, str]] = []
        to_post: list[Ready] = []
        settle: list[Delivery] = []
        for delivery in deliveries:
            before = earlier.get(delivery.key)
            if delivery.key in posts and ours_to_send(before, self.process):
                to_post.append((delivery, *posts[delivery.key]))
            elif before is None:
                answers.append((delivery, str(delivery.record["status"])))
            elif before.get("status") == PENDING:
                error = interruption("posting this message", "posted")
                settle.append(refused(Delivery(Route.CHATOPS, before, None, None), error, now))
            else:  # a redelivery: answered as the first time
                answers.append((Delivery(Route.CHATOPS, before, None, None), "duplicate"))
        finished = [*await asyncio.gather(*(self._post(*r, now) for r in to_post)), *settle]
        await self._records.settle(d.record for d in finished)
        return answers + [(d, str(d.record["status"])) for d in finished]

    def _ready(
        self, delivery: Delivery, post: Post, found: Any, now: datetime
    ) -> tuple[Delivery, SlackConnection | TeamsConnection | None]:
        """The delivery ready to post (its target named), or failed without a connection or a
        target."""
        if isinstance(found, DeliveryError):
            return refused(delivery, found, now), None
        if isinstance(post, SlackPost):
            if not isinstance(found, SlackConnection):
                error = failure(
                    CHANNEL_NOT_CONNECTED, "the tenant has connected no Slack workspace"
                )
                return refused(delivery, error, now), None
            channel = post.channel or found.default_channel
            if channel is None:
                error = failure(
                    ADDRESS_UNKNOWN,
                    "no Slack channel: the node names none and the "
                    "tenant's connection has no default channel",
                )
                return refused(delivery, error, now), None
            return targeted(delivery, channel, self.process), found
        if not isinstance(found, TeamsConnection) or not found.webhooks:
            error = failure(CHANNEL_NOT_CONNECTED, "the tenant has connected no Teams webhook")
            return refused(delivery, error, now), None
        webhook = found.webhook(post.webhook)
        if webhook is None:
            named = repr(post.webhook) if post.webhook else "no default"
            error = failure(ADDRESS_UNKNOWN, f"the tenant has no Teams webhook {named}")
            return refused(delivery, error, now), None
        return targeted(delivery, webhook.name, self.process), found

    async def _post(
        self,
        delivery: Delivery,
        post: Post,
        connection: SlackConnection | TeamsConnection,
        now: datetime,
    ) -> Delivery:
        try:
            result = await self._send(post, connection, delivery.record["target"])
        except PostFailed as exc:
            return refused(delivery, exc.error, now)
        return posted(delivery, result, now)

    async def _send(
        self, post: Post, connection: SlackConnection | TeamsConnection, target: str
    ) -> Document:
        if isinstance(post, SlackPost):
            assert isinstance(connection, SlackConnection)
            return (await self._slack.post(connection, post, target)).result()
        assert isinstance(connection, TeamsConnection)
        webhook = connection.webhook(target)
        assert webhook is not None
        await self._teams.post(webhook, adaptive_card(post))
        return {"webhook": webhook.name, "status": "sent"}

    async def tell(self, tenant_id: str, post: Post) -> Document | DeliveryError:
        """Post ``post`` for ``tenant_id`` now, without a workflow node or a record: a
        SlackPost to its channel (an id, ``#name`` or a user id: the bot's direct message;
        None: the tenant's default channel), a TeamsPost to its named webhook (None: the
        default). The result (``{ts, channel}``; Teams ``{webhook, status}``) or the typed
        error; nothing raised for a refusal. Not idempotent: the caller records what it told."""
        if isinstance(post, SlackPost):
            found: Any = (await self._connections.slack([tenant_id])).get(tenant_id)
        else:
            found = (await self._connections.teams([tenant_id])).get(tenant_id)
        plain = Delivery(Route.CHATOPS, {"_id": "tell", "status": PENDING}, None, None)
        ready, connection = self._ready(plain, post, found, datetime.now(UTC))
        if connection is None:
            assert ready.error is not None
            return ready.error
        try:
            return await self._send(post, connection, ready.record["target"])
        except PostFailed as exc:
            return exc.error
