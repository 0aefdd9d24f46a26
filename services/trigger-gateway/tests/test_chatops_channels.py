"""A tenant's Slack and Teams connections: validated (RFC 9457 problems), their secrets sealed
and never answered (a fingerprint; a webhook's host), nobody else's to read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from trigger_gateway.adapters.chatops import SlackConnection, TeamsConnection
from trigger_gateway.domain.chatops import SLACK_BOT_TOKEN, TEAMS_WEBHOOK_URL

TOKEN = "xoxb-1234567890-abcdefabcdef"
URL = "https://acme.webhook.office.com/webhookb2/0f0f/IncomingWebhook/abc/def"


class MemoryChatOps:
    """adapters/chatops.ChatOpsRepository in memory (the MongoDB one: tests-e2e)."""

    def __init__(self) -> None:
        self.slack_docs: dict[str, SlackConnection] = {}
        self.teams_docs: dict[str, TeamsConnection] = {}

    async def slack(self, tenant_id):
        return self.slack_docs.get(tenant_id)

    async def put_slack(self, tenant_id, bot_token, default_channel):
        now = datetime.now(UTC)
        old = self.slack_docs.get(tenant_id)
        token = bot_token or old.bot_token
        made = SlackConnection(token, default_channel, old.created_at if old else now, now)
        self.slack_docs[tenant_id] = made
        return made

    async def delete_slack(self, tenant_id):
        return self.slack_docs.pop(tenant_id, None) is not None

    async def teams(self, tenant_id):
        return self.teams_docs.get(tenant_id)

    async def put_teams(self, tenant_id, webhooks, default_webhook):
        now = datetime.now(UTC)
        made = TeamsConnection(list(webhooks), default_webhook, now, now)
        self.teams_docs[tenant_id] = made
        return made

    async def delete_teams(self, tenant_id):
        return self.teams_docs.pop(tenant_id, None) is not None


@pytest.fixture
def chatops(gw) -> MemoryChatOps:
    memory = MemoryChatOps()
    gw.client.app.app.state.chatops = memory
    return memory


def test_slack_answers_a_fingerprint_never_the_token(gw, chatops) -> None:
    answer = gw.client.put(
        "/v1/channels/slack",
        json={"bot_token": TOKEN, "default_channel": "#support"},
        headers=gw.as_tenant(),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert TOKEN not in answer.text
    assert body["has_bot_token"] is True and len(body["bot_token_fingerprint"]) == 8
    assert body["default_channel"] == "#support"
    stored = chatops.slack_docs["ten_a"].bot_token
    opened = gw.keyring.open(stored, tenant_id="ten_a", purpose=SLACK_BOT_TOKEN)
    assert opened.reveal() == TOKEN
    fetched = gw.client.get("/v1/channels/slack", headers=gw.as_tenant())
    assert fetched.json() == body


def test_slack_keeps_the_stored_token_when_left_out(gw, chatops) -> None:
    put = {"bot_token": TOKEN}
    first = gw.client.put("/v1/channels/slack", json=put, headers=gw.as_tenant()).json()
    changed = gw.client.put(
        "/v1/channels/slack", json={"default_channel": "C0123456789"}, headers=gw.as_tenant()
    ).json()
    assert changed["bot_token_fingerprint"] == first["bot_token_fingerprint"]
    assert changed["default_channel"] == "C0123456789"


def test_slack_without_a_stored_token_is_409(gw, chatops, expect_problem) -> None:
    answer = gw.client.put("/v1/channels/slack", json={}, headers=gw.as_tenant())
    assert expect_problem(answer, 409)["errors"][0]["name"] == "body.bot_token"


@pytest.mark.parametrize(
    "body",
    [
        {"bot_token": "not-a-token"},
        {"bot_token": TOKEN, "default_channel": "support channel"},
        {"bot_token": TOKEN, "extra": 1},
    ],
)
def test_slack_validation_is_a_problem_that_echoes_no_token(gw, chatops, body, expect_problem):
    answer = gw.client.put("/v1/channels/slack", json=body, headers=gw.as_tenant())
    expect_problem(answer, 422)
    assert TOKEN not in answer.text and "not-a-token" not in answer.text


def test_slack_is_the_tenants_own_and_deleted(gw, chatops, expect_problem) -> None:
    gw.client.put("/v1/channels/slack", json={"bot_token": TOKEN}, headers=gw.as_tenant())
    expect_problem(gw.client.get("/v1/channels/slack", headers=gw.as_tenant("key-b")), 404)
    assert gw.client.delete("/v1/channels/slack", headers=gw.as_tenant()).status_code == 204
    expect_problem(gw.client.get("/v1/channels/slack", headers=gw.as_tenant()), 404)
    expect_problem(gw.client.delete("/v1/channels/slack", headers=gw.as_tenant()), 404)


def test_teams_answers_the_host_and_a_fingerprint_never_the_url(gw, chatops) -> None:
    answer = gw.client.put(
        "/v1/channels/teams",
        json={"webhooks": [{"name": "support", "url": URL}]},
        headers=gw.as_tenant(),
    )
    assert answer.status_code == 200, answer.text
    assert URL not in answer.text and "webhookb2" not in answer.text
    body = answer.json()
    [hook] = body["webhooks"]
    assert (hook["name"], hook["host"], len(hook["url_fingerprint"])) == (
        "support",
        "acme.webhook.office.com",
        8,
    )
    assert body["default_webhook"] == "support"  # the only one
    stored = chatops.teams_docs["ten_a"].webhooks[0].url
    assert gw.keyring.open(stored, tenant_id="ten_a", purpose=TEAMS_WEBHOOK_URL).reveal() == URL


def test_teams_keeps_a_stored_url_by_name(gw, chatops, expect_problem) -> None:
    gw.client.put(
        "/v1/channels/teams",
        json={"webhooks": [{"name": "support", "url": URL}]},
        headers=gw.as_tenant(),
    )
    answer = gw.client.put(
        "/v1/channels/teams",
        json={
            "webhooks": [{"name": "support"}, {"name": "sales", "url": URL + "2"}],
            "default_webhook": "sales",
        },
        headers=gw.as_tenant(),
    )
    assert answer.status_code == 200, answer.text
    assert [w["name"] for w in answer.json()["webhooks"]] == ["support", "sales"]
    missing = gw.client.put(
        "/v1/channels/teams", json={"webhooks": [{"name": "ops"}]}, headers=gw.as_tenant()
    )
    assert expect_problem(missing, 409)["errors"][0]["name"] == "body.webhooks[0].url"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"webhooks": [{"name": "a", "url": "http://acme.example/hook"}]}, "body.webhooks[0].url"),
        ({"webhooks": [{"name": "a", "url": "https://127.0.0.1/hook"}]}, "body.webhooks[0].url"),
        ({"webhooks": [{"name": "a", "url": "ftp://acme.example/"}]}, "body.webhooks[0].url"),
        ({"webhooks": []}, "body.webhooks"),
        ({"webhooks": [{"name": "a", "url": URL}, {"name": "a", "url": URL}]}, "body.webhooks"),
        ({"webhooks": [{"name": "a", "url": URL}], "default_webhook": "b"}, "body"),
    ],
)
def test_teams_validation_is_a_problem_that_echoes_no_url(gw, chatops, body, field, expect_problem):
    answer = gw.client.put("/v1/channels/teams", json=body, headers=gw.as_tenant())
    problem = expect_problem(answer, 422)
    assert any(e["name"].startswith(field) for e in problem["errors"]), problem
    assert "acme.example/hook" not in answer.text and "webhookb2" not in answer.text


def test_teams_allows_http_to_private_hosts_where_configured(gw, chatops) -> None:
    settings = gw.client.app.app.state.gateway.settings
    gw.client.app.app.state.gateway = replace(
        gw.client.app.app.state.gateway,
        settings=settings.model_copy(update={"webhook_allow_private_urls": True}),
    )
    answer = gw.client.put(
        "/v1/channels/teams",
        json={"webhooks": [{"name": "local", "url": "http://127.0.0.1:8090/teams/webhook/x"}]},
        headers=gw.as_tenant(),
    )
    assert answer.status_code == 200, answer.text
    assert gw.client.delete("/v1/channels/teams", headers=gw.as_tenant()).status_code == 204
