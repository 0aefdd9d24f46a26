"""Slack and Teams on the real stack: a tenant connects a Slack workspace and a Teams incoming
webhook (the provider sandbox plays both) through the gateway; a workflow's Slack nodes post
through the notifier and the slack-sdk (a message, then a reply in its thread), its Teams node
posts an Adaptive Card; Slack's `not_in_channel` and a 429 come back as typed errors the
workflow routes on (an error edge); a redelivered request posts nothing twice."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from conftest import SANDBOX_URL, TenantApi
from contracts import topics
from kafka_observer import KafkaObserver, Seen

pytestmark = pytest.mark.e2e


def node(node_id: str, label: str, **config: Any) -> dict[str, Any]:
    kind = "integration" if label in ("Slack", "Teams") else "action"
    return {"id": node_id, "type": kind, "label": label, "config": config}


def chain(*ids: str) -> list[dict[str, Any]]:
    return [
        {"id": f"e{i}", "source": a, "target": b}
        for i, (a, b) in enumerate(itertools.pairwise(ids))
    ]


POST_AND_REPLY = {
    "name": "Tell the team",
    "triggerType": "Incoming Message",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        node(
            "post",
            "Slack",
            action="postMessage",
            channel="#support",
            text="New message: {{trigger.text}}",
            outputVariable="post",
        ),
        node(
            "reply",
            "Slack",
            action="postMessage",
            channel="{{workflow.post.channel}}",
            text="Customer: {{customer.name}}",
            threadTs="{{workflow.post.ts}}",
        ),
        node(
            "card",
            "Teams",
            action="postMessage",
            title="New message",
            text="{{trigger.text}}",
            facts={"Customer": "{{customer.name}}"},
            outputVariable="card",
        ),
    ],
    "edges": chain("t", "post", "reply", "card"),
}

# The message's text names the channel: `#outside` (the bot is not in it), `#busy` (429).
ROUTED = {
    "name": "Slack, or say why not",
    "triggerType": "Incoming Message",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        node("post", "Slack", action="postMessage", channel="{{trigger.text}}", text="hi"),
        node("why", "Set Variable", path="workflow.routed", value="{{workflow.error.code}}"),
    ],
    "edges": [
        *chain("t", "post"),
        {"id": "err", "source": "post", "target": "why", "label": "error"},
    ],
}


@dataclass
class ChatOps:
    sandbox: httpx.AsyncClient
    workspace: dict[str, Any]
    webhook: dict[str, Any]

    def channel_id(self, name: str) -> str:
        return next(c["id"] for c in self.workspace["channels"] if c["name"] == name)

    async def slack_messages(self) -> list[dict[str, Any]]:
        listed = await self.sandbox.get(
            "/sandbox/slack/messages", params={"team_id": self.workspace["team_id"]}
        )
        found: list[dict[str, Any]] = listed.json()["messages"]
        return found

    async def teams_posts(self) -> list[dict[str, Any]]:
        listed = await self.sandbox.get(f"/sandbox/teams/webhooks/{self.webhook['id']}/posts")
        found: list[dict[str, Any]] = listed.json()["posts"]
        return found


async def observing(stack: Any, *names: str) -> KafkaObserver:
    observer = KafkaObserver(stack.kafka, list(names), alive=stack.assert_alive)
    await observer.start()
    return observer


@pytest.fixture
async def commands(stack: Any) -> AsyncIterator[KafkaObserver]:
    observer = await observing(stack, topics.EXECUTION_COMMANDS)
    try:
        yield observer
    finally:
        await observer.stop()


@pytest.fixture
async def chatops(api: TenantApi) -> AsyncIterator[ChatOps]:
    async with httpx.AsyncClient(base_url=SANDBOX_URL, timeout=30) as sandbox:
        workspace = (await sandbox.post("/sandbox/slack/workspaces", json={})).json()
        webhook = (await sandbox.post("/sandbox/teams/webhooks", json={})).json()
        headers = api.tenant.headers
        slack = await api.http.put(
            "/v1/channels/slack", json={"bot_token": workspace["bot_token"]}, headers=headers
        )
        assert slack.status_code == 200, slack.text
        assert workspace["bot_token"] not in slack.text
        teams = await api.http.put(
            "/v1/channels/teams",
            json={"webhooks": [{"name": "support", "url": webhook["url"]}]},
            headers=headers,
        )
        assert teams.status_code == 200, teams.text
        assert webhook["url"] not in teams.text
        yield ChatOps(sandbox, workspace, webhook)


async def test_slack_posts_and_replies_in_its_thread_and_teams_gets_a_card(
    api: TenantApi, chatops: ChatOps
) -> None:
    await api.activate(POST_AND_REPLY)
    trigger = await api.message("Where is my order?", conversation_id="c-slack-1")

    execution = await api.finished_execution(trigger)

    assert execution["status"] == "completed", execution
    first, reply = await chatops.slack_messages()
    assert (first["channel"], first["text"]) == (
        chatops.channel_id("support"),
        "New message: Where is my order?",
    )
    assert (reply["thread_ts"], reply["text"]) == (first["ts"], "Customer: Ada")
    assert execution["variables"]["workflow"]["post"] == {
        "ts": first["ts"],
        "channel": first["channel"],
    }
    [posted] = await chatops.teams_posts()
    card = posted["payload"]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert [b.get("text") for b in card["body"][:2]] == ["New message", "Where is my order?"]
    assert card["body"][2]["facts"] == [{"title": "Customer", "value": "Ada"}]
    assert execution["variables"]["workflow"]["card"] == {"webhook": "support", "status": "sent"}


async def test_refusals_are_typed_errors_the_workflow_routes_on(
    api: TenantApi, chatops: ChatOps, commands: KafkaObserver
) -> None:
    await api.activate(ROUTED)
    outside = await api.message("#outside", conversation_id="c-slack-2")
    busy = await api.message("#busy", conversation_id="c-slack-3")

    refused, limited = await asyncio.gather(
        api.finished_execution(outside), api.finished_execution(busy)
    )

    # the error edge took both: the workflow sees the type as the error's code
    assert refused["status"] == "completed", refused
    assert refused["variables"]["workflow"]["routed"] == "NotPermitted"
    assert "not_in_channel" in refused["variables"]["workflow"]["error"]["message"]
    assert limited["status"] == "completed", limited
    assert limited["variables"]["workflow"]["routed"] == "RateLimited"
    # what the notifier answered: the typed errors in full
    settled = {
        m.value["execution_id"]: m.value["error"]
        for m in await commands.wait_for(
            lambda m: (
                m.type == "EffectSettled"
                and m.value["execution_id"] in (refused["id"], limited["id"])
            ),
            count=2,
        )
    }
    assert settled[refused["id"]] == {
        "type": "NotPermitted",
        "message": "Slack: not_in_channel",
        "retryable": False,
        "provider_code": "not_in_channel",
        "http_status": 200,
    }
    assert settled[limited["id"]] == {
        "type": "RateLimited",
        "message": "Slack: ratelimited",
        "retryable": True,
        "provider_code": "ratelimited",
        "http_status": 429,
        "retry_after_seconds": 1.0,
    }
    assert await chatops.slack_messages() == []
    assert chatops.workspace["bot_token"] not in str(refused) + str(limited) + str(settled)


async def test_a_redelivered_request_posts_nothing_twice(
    api: TenantApi, chatops: ChatOps, stack: Any
) -> None:
    observer = await observing(stack, topics.NOTIFICATION_REQUESTS, topics.EXECUTION_COMMANDS)
    try:
        await api.activate(POST_AND_REPLY)
        trigger = await api.message("Hello", conversation_id="c-slack-4")
        execution = await api.finished_execution(trigger)
        assert execution["status"] == "completed", execution

        def first_post(m: Seen) -> bool:
            return (
                m.topic == topics.NOTIFICATION_REQUESTS
                and m.value.get("node_id") == "post"
                and (m.value.get("execution_id") == execution["id"])
            )

        [request] = await observer.wait_for(first_post)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka)
        await producer.start()
        try:  # Kafka delivers it again (the executor re-published its outbox, a rebalance)
            await producer.send_and_wait(
                request.topic,
                value=json.dumps(request.value).encode(),
                key=request.key.encode() if request.key else None,
                headers=[(k, v.encode()) for k, v in request.headers.items()],
            )
        finally:
            await producer.stop()

        def answered(m: Seen) -> bool:
            return (
                m.topic == topics.EXECUTION_COMMANDS
                and m.type == "EffectSettled"
                and m.value.get("effect_id") == request.value["effect_id"]
                and m.value.get("execution_id") == execution["id"]
            )

        answers = await observer.wait_for(answered, count=2)
        assert answers[0].value["result"] == answers[1].value["result"]
    finally:
        await observer.stop()
    assert len(await chatops.slack_messages()) == 2  # the post and its reply, once each
