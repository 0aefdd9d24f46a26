"""The notifier's Slack poster (the real slack-sdk) and Teams poster (httpx) against the real
provider sandbox on a free port: what they post, and the providers' refusals, rate limits and
silences as typed errors."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from notifier.adapters.chatops_accounts import SlackConnection, TeamsWebhook
from notifier.adapters.slack_client import SlackMessages
from notifier.adapters.teams_client import TeamsWebhooks
from notifier.domain.chatops import PostFailed, SlackPost, TeamsPost, adaptive_card
from servicekit.sealing import Secret


async def workspace(sandbox_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        made = await http.post("/sandbox/slack/workspaces", json={"name": "Acme"})
        assert made.status_code == 201, made.text
        found: dict[str, Any] = made.json()
        return found


def connection(token: str) -> SlackConnection:
    return SlackConnection("ten_1", Secret(token), "fp1", None)


@pytest.fixture
async def slack(sandbox_url: str):
    messages = SlackMessages(base_url=f"{sandbox_url}/api/", timeout_seconds=5, max_in_flight=4)
    yield messages
    await messages.close()


@pytest.fixture
async def teams():
    poster = TeamsWebhooks(timeout_seconds=5, max_in_flight=4, allow_private=True)
    yield poster
    await poster.close()


async def test_a_post_and_a_thread_reply(slack, sandbox_url) -> None:
    made = await workspace(sandbox_url)
    general = next(c["id"] for c in made["channels"] if c["name"] == "general")

    first = await slack.post(connection(made["bot_token"]), SlackPost("Order #1"), "#general")
    reply = SlackPost("shipped", thread_ts=first.ts, reply_broadcast=True)
    second = await slack.post(connection(made["bot_token"]), reply, first.channel)

    assert first.channel == general and second.channel == general
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        listed = await http.get("/sandbox/slack/messages", params={"team_id": made["team_id"]})
    posted = listed.json()["messages"]
    assert [(m["text"], m["thread_ts"]) for m in posted] == [
        ("Order #1", None),
        ("shipped", first.ts),
    ]
    assert posted[1]["reply_broadcast"] is True


@pytest.mark.parametrize(
    ("channel", "kind", "code"),
    [
        ("#outside", "NotPermitted", "not_in_channel"),
        ("#old-news", "NotPermitted", "is_archived"),
        ("#nowhere", "InvalidRecipient", "channel_not_found"),
    ],
)
async def test_slacks_refusals_are_typed_and_final(slack, sandbox_url, channel, kind, code) -> None:
    made = await workspace(sandbox_url)
    with pytest.raises(PostFailed) as raised:
        await slack.post(connection(made["bot_token"]), SlackPost("hi"), channel)
    error = raised.value.error
    assert (error.type, error.code, error.retryable) == (kind, code, False)


async def test_a_429_is_rate_limited_with_its_retry_after(slack, sandbox_url) -> None:
    made = await workspace(sandbox_url)
    with pytest.raises(PostFailed) as raised:
        await slack.post(connection(made["bot_token"]), SlackPost("hi"), "#busy")
    error = raised.value.error
    assert (error.type, error.retryable, error.http_status) == ("RateLimited", True, 429)
    assert error.retry_after_seconds == 1
    assert error.for_workflow()["retry_after_seconds"] == 1


async def test_a_wrong_token_fails_authentication_and_is_not_in_the_error(slack, sandbox_url):
    await workspace(sandbox_url)
    with pytest.raises(PostFailed) as raised:
        await slack.post(connection("xoxb-secret-wrong"), SlackPost("hi"), "#general")
    assert raised.value.error.type == "AuthenticationFailed"
    assert "xoxb" not in str(raised.value.error.for_workflow())


async def test_slack_not_reached_is_provider_unavailable() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    slack = SlackMessages(
        base_url=f"http://127.0.0.1:{port}/api/", timeout_seconds=2, max_in_flight=1
    )
    try:
        with pytest.raises(PostFailed) as raised:
            await slack.post(connection("xoxb-1"), SlackPost("hi"), "#general")
    finally:
        await slack.close()
    assert (raised.value.error.type, raised.value.error.retryable) == ("ProviderUnavailable", True)


async def teams_webhook(sandbox_url: str, **spec: Any) -> tuple[dict[str, Any], TeamsWebhook]:
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        made = (await http.post("/sandbox/teams/webhooks", json=spec)).json()
    return made, TeamsWebhook("support", Secret(made["url"]), "127.0.0.1", "fp")


async def test_a_teams_post_is_an_adaptive_card(teams, sandbox_url) -> None:
    made, webhook = await teams_webhook(sandbox_url)
    post = TeamsPost("Ticket escalated", title="Order #1", facts=(("Customer", "Ada"),))

    await teams.post(webhook, adaptive_card(post))

    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        [taken] = (await http.get(f"/sandbox/teams/webhooks/{made['id']}/posts")).json()["posts"]
    card = taken["payload"]["attachments"][0]["content"]
    assert [b["type"] for b in card["body"]] == ["TextBlock", "TextBlock", "FactSet"]
    assert card["body"][2]["facts"] == [{"title": "Customer", "value": "Ada"}]


async def test_teams_refusals_are_typed(teams, sandbox_url) -> None:
    made, webhook = await teams_webhook(sandbox_url)
    with pytest.raises(PostFailed) as raised:
        await teams.post(webhook, {"type": "message", "attachments": []})
    assert (raised.value.error.type, raised.value.error.http_status) == ("InvalidMessage", 400)

    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        await http.delete(f"/sandbox/teams/webhooks/{made['id']}")
    with pytest.raises(PostFailed) as raised:
        await teams.post(webhook, adaptive_card(TeamsPost("hi")))
    error = raised.value.error
    assert (error.type, error.retryable, error.http_status) == ("InvalidRecipient", False, 404)
    assert made["url"] not in error.message

    _, limited = await teams_webhook(sandbox_url, rate_limited=True)
    with pytest.raises(PostFailed) as raised:
        await teams.post(limited, adaptive_card(TeamsPost("hi")))
    error = raised.value.error
    assert (error.type, error.retryable, error.retry_after_seconds) == ("RateLimited", True, 1)


async def test_a_private_address_is_refused_unless_allowed(sandbox_url) -> None:
    _, webhook = await teams_webhook(sandbox_url)
    guarded = TeamsWebhooks(timeout_seconds=5, max_in_flight=1, allow_private=False)
    try:
        with pytest.raises(PostFailed) as raised:
            await guarded.post(webhook, adaptive_card(TeamsPost("hi")))
    finally:
        await guarded.close()
    assert raised.value.error.type == "NotPermitted"
