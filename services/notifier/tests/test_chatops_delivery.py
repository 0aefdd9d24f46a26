"""Slack and Teams nodes through the notifier (stand-ins of the SDK posters): the tenant's
connection opened, each post recorded before it is sent and sent once per idempotency key,
the result or the typed error in the EffectSettled the workflow routes on; and ``tell``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from contracts import topics
from contracts.events import EffectSettled
from notifier.adapters.chatops_accounts import (
    SLACK_BOT_TOKEN,
    TEAMS_WEBHOOK_URL,
    ChatOpsConnections,
    SlackConnection,
    TeamsWebhook,
)
from notifier.adapters.slack_client import SlackPosted
from notifier.adapters.store import NotificationRepository
from notifier.chatops_sending import ChatOpsSending
from notifier.domain.chatops import PostFailed, SlackPost, TeamsPost, plan_post, slack_refused
from servicekit.sealing import Kek, Keyring
from servicekit.testing import running

KEYRING = Keyring([Kek("test1", bytes(range(32)))])
TOKEN = "xoxb-1234-secret"
WEBHOOK = "https://acme.webhook.office.com/webhookb2/secret"


@dataclass
class FakeSlack:
    posts: list[tuple[str, str, SlackPost]] = field(default_factory=list)
    refuse: dict[str, PostFailed] = field(default_factory=dict)

    async def post(self, connection: SlackConnection, post: SlackPost, channel: str) -> SlackPosted:
        self.posts.append((connection.bot_token.reveal(), channel, post))
        if channel in self.refuse:
            raise self.refuse[channel]
        return SlackPosted("C0SUPPORT", f"1700000000.{len(self.posts):06d}")


@dataclass
class FakeTeams:
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def post(self, webhook: TeamsWebhook, message: dict[str, Any]) -> None:
        self.posts.append((webhook.url.reveal(), message))


class ChatOps:
    """The notifier of conftest with Slack and Teams connected to stand-ins."""

    def __init__(self, make_notifier: Any) -> None:
        self.slack, self.teams = FakeSlack(), FakeTeams()

        def chatops(db: Any, notifications: NotificationRepository) -> ChatOpsSending:
            self.chatops = ChatOpsSending(
                notifications,
                ChatOpsConnections(db, KEYRING, ttl_seconds=0),
                self.slack,
                self.teams,
            )
            return self.chatops

        self.notifier = make_notifier(chatops=chatops)
        self.tenant = self.notifier.tenant
        self.db = self.notifier.db
        self.send = self.notifier.send
        self.run = self.notifier.run

    def connect_slack(self, default_channel: str | None = None) -> None:
        sealed = KEYRING.seal(TOKEN, tenant_id=self.tenant, purpose=SLACK_BOT_TOKEN)
        self.db.slack_connections.docs[self.tenant] = {
            "_id": self.tenant,
            "bot_token": sealed.to_document(),
            "default_channel": default_channel,
        }

    def connect_teams(self) -> None:
        sealed = KEYRING.seal(WEBHOOK, tenant_id=self.tenant, purpose=TEAMS_WEBHOOK_URL)
        self.db.teams_connections.docs[self.tenant] = {
            "_id": self.tenant,
            "webhooks": [{"name": "support", "url": sealed.to_document(), "host": "acme"}],
            "default_webhook": "support",
        }

    def node(self, kind: str, n: int = 1, **params: object):
        return self.notifier.request(
            n,
            kind=f"integration.{kind}",
            request={"integration": kind, "action": "postMessage", "params": params},
            awaits_result=True,
        )

    def settled(self) -> list[EffectSettled]:
        return self.notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)


@pytest.fixture
def chat(make_notifier) -> ChatOps:
    return ChatOps(make_notifier)


async def test_a_slack_post_settles_with_its_ts_and_channel(chat) -> None:
    chat.connect_slack()
    chat.send(chat.node("slack", channel="#support", text="New ticket", threadTs="1.2"))
    await chat.run()

    [(token, channel, post)] = chat.slack.posts
    assert (token, channel, post.thread_ts) == (TOKEN, "#support", "1.2")
    [settled] = chat.settled()
    assert settled.error is None
    assert settled.result == {"ts": "1700000000.000001", "channel": "C0SUPPORT"}
    [record] = chat.db.notifications.docs.values()
    assert (record["status"], record["target"]) == ("sent", "#support")
    assert TOKEN not in repr(record)


async def test_without_a_channel_the_default_one(chat) -> None:
    chat.connect_slack(default_channel="#general")
    chat.send(chat.node("slack", text="hi"))
    await chat.run()
    assert chat.slack.posts[0][1] == "#general"


async def test_a_redelivered_request_posts_once_and_is_answered_alike(chat) -> None:
    chat.connect_slack()
    request = chat.node("slack", channel="#support", text="hi")
    async with running(chat.notifier.kit):
        chat.send(request)
        await chat.notifier.broker.idle()
        chat.send(request)  # Kafka delivers it again (a rebalance, a restart)
        await chat.notifier.broker.idle()

    assert len(chat.slack.posts) == 1
    first, second = chat.settled()
    assert first.result == second.result


async def test_a_post_another_process_began_is_not_sent_again(chat) -> None:
    chat.connect_slack()
    request = chat.node("slack", channel="#support", text="hi")
    delivery, _ = plan_post(request, datetime.now(UTC))
    chat.db.notifications.docs[delivery.key] = {**delivery.record, "sending_process": "gone"}
    chat.send(request)
    await chat.run()

    assert chat.slack.posts == []
    [settled] = chat.settled()
    assert settled.error["type"] == "DeliveryInterrupted"
    assert chat.db.notifications.docs[delivery.key]["status"] == "failed"


async def test_slacks_refusal_is_the_typed_error_the_workflow_routes_on(chat) -> None:
    chat.connect_slack()
    chat.slack.refuse["#outside"] = PostFailed(slack_refused(200, "not_in_channel", None))
    chat.send(chat.node("slack", channel="#outside", text="hi"))
    await chat.run()

    [settled] = chat.settled()
    assert settled.result is None
    assert settled.error["type"] == "NotPermitted" and settled.error["retryable"] is False
    assert settled.error["provider_code"] == "not_in_channel"


async def test_a_teams_post_goes_to_the_default_webhook_as_a_card(chat) -> None:
    chat.connect_teams()
    chat.send(chat.node("teams", text="Escalated", title="Order #1"))
    await chat.run()

    [(url, message)] = chat.teams.posts
    assert url == WEBHOOK
    assert message["attachments"][0]["content"]["body"][0]["text"] == "Order #1"
    [settled] = chat.settled()
    assert settled.result == {"webhook": "support", "status": "sent"}
    assert WEBHOOK not in repr(chat.db.notifications.docs)


async def test_not_connected_or_an_unknown_webhook_posts_nothing(chat) -> None:
    chat.send(chat.node("slack", 1, channel="#x", text="hi"))
    chat.connect_teams()
    chat.send(chat.node("teams", 2, text="hi", webhook="sales"))
    await chat.run()

    assert chat.slack.posts == [] and chat.teams.posts == []
    types = sorted(s.error["type"] for s in chat.settled())
    assert types == ["AddressUnknown", "ChannelNotConnected"]


async def test_tell_posts_for_a_tenant_without_a_node(chat) -> None:
    chat.connect_slack()
    chat.connect_teams()

    slack = await chat.chatops.tell(chat.tenant, SlackPost("Ada is yours", channel="U0AGENT"))
    teams = await chat.chatops.tell(chat.tenant, TeamsPost("Ada is yours"))

    assert slack == {"ts": "1700000000.000001", "channel": "C0SUPPORT"}
    assert teams == {"webhook": "support", "status": "sent"}
    assert chat.slack.posts[0][1] == "U0AGENT"
    assert chat.db.notifications.docs == {}


async def test_a_token_sealed_for_another_tenant_does_not_open(chat) -> None:
    sealed = KEYRING.seal(TOKEN, tenant_id="ten_other", purpose=SLACK_BOT_TOKEN)
    chat.db.slack_connections.docs[chat.tenant] = {
        "_id": chat.tenant,
        "bot_token": sealed.to_document(),
        "default_channel": None,
    }
    chat.send(chat.node("slack", channel="#support", text="hi"))
    await chat.run()

    assert chat.slack.posts == []
    [settled] = chat.settled()
    assert settled.error["type"] == "CredentialsUnavailable"
