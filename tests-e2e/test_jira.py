"""Jira Cloud through its REST API v3 against the provider sandbox's Jira: the integrations
service's client (issues created with Atlassian Documents, read, commented, moved along their
transitions by name), Jira's refusals typed, its 429 RateLimited with Retry-After; a workflow
that files a bug for the customer and closes the loop; and a Jira connected by OAuth, its
calls addressed by the site's cloud id, its rotating refresh token renewed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import SANDBOX_URL, Stack, TenantApi
from connections import (
    call_context,
    client_fixture,
    connect,
    provider_connection,
    refusal,
    sandbox_made,
    sandbox_state,
)
from contracts.connections import JiraConfig
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection
from integrations.providers.jira import JiraClient
from test_oauth import authorize, register_app

pytestmark = pytest.mark.e2e


async def new_site(limit: int = 600) -> dict[str, Any]:
    return await sandbox_made("/sandbox/jira/sites", {"limit": limit})


async def site_now(site: str) -> dict[str, Any]:
    return await sandbox_state(f"/sandbox/jira/sites/{site}")


@pytest.fixture
async def site(stack: Stack) -> dict[str, Any]:
    return await new_site()


client = client_fixture(JiraClient)


def connection(site: dict[str, Any], token: str | None = None) -> Connection:
    config = JiraConfig(site=site["site"], base_url=SANDBOX_URL)
    return provider_connection(
        "jira", config, email=site["email"], api_token=token or site["api_token"]
    )


async def test_issues_comments_and_transitions(client: JiraClient, site: dict[str, Any]) -> None:
    jira = connection(site)
    made = await client.call(
        jira, "createIssue",
        {"projectKey": "SUP", "summary": "Checkout fails", "description": "500 on pay\nsince 9am",
         "issueType": "Bug", "labels": "chat checkout", "priority": "High"},
        call_context(),
    )  # fmt: skip
    assert made["key"] == "SUP-1" and made["url"] == f"https://{site['site']}/browse/SUP-1"
    issue = await client.call(jira, "getIssue", {"issueKey": "SUP-1"}, call_context())
    fields = issue["fields"]
    assert (fields["issuetype"]["name"], fields["labels"], fields["status"]["name"]) == (
        "Bug", ["chat", "checkout"], "To Do"
    )  # fmt: skip
    assert len(fields["description"]["content"]) == 2  # a paragraph per line
    await client.call(jira, "addComment", {"issueKey": "SUP-1", "body": "On it"}, call_context())
    moved = await client.call(
        jira, "transitionIssue", {"issueKey": "SUP-1", "transition": "in progress"}, call_context()
    )
    assert moved["status"] == "In Progress"
    done = await client.call(
        jira, "transitionIssue", {"issueKey": "SUP-1", "transition": "31"}, call_context()
    )
    assert done == {"issueKey": "SUP-1", "transition": {"id": "31", "name": "Done"},
                    "status": "Done"}  # fmt: skip
    picked = await client.call(
        jira, "getIssue", {"issueKey": "SUP-1", "fields": ["status"]}, call_context()
    )
    assert list(picked["fields"]) == ["status"]
    assert (await client.check(jira, call_context()))["active"] is True
    assert [c["body"]["content"][0]["content"][0]["text"]
            for c in (await site_now(site["site"]))["comments"]["SUP-1"]] == ["On it"]  # fmt: skip


async def test_jiras_refusals_are_typed(client: JiraClient, site: dict[str, Any]) -> None:
    jira = connection(site)

    async def refused(on: Connection, action: str, **params: Any) -> IntegrationError:
        return await refusal(client, on, action, params)

    await client.call(jira, "createIssue", {"projectKey": "SUP", "summary": "x"}, call_context())
    kinds = {
        "token": await refused(
            connection(site, "wrong-token-CANARY"), "getIssue", issueKey="SUP-1"
        ),
        "missing": await refused(jira, "getIssue", issueKey="SUP-99"),
        "project": await refused(jira, "createIssue", projectKey="NOPE", summary="x"),
        "transition": await refused(jira, "transitionIssue", issueKey="SUP-1", transition="Fly"),
        "key": await refused(jira, "getIssue", issueKey="../myself"),
    }
    assert {name: e.error_type for name, e in kinds.items()} == {
        "token": "Unauthorized",
        "missing": "NotFound",
        "project": "Invalid",
        "transition": "Invalid",
        "key": "Invalid",
    }
    assert "project: valid project is required" in str(kinds["project"])
    assert "In Progress (21), Done (31)" in str(kinds["transition"])
    assert "CANARY" not in str(kinds["token"])
    small = connection(await new_site(limit=1))
    await client.check(small, call_context())
    with pytest.raises(IntegrationError) as limited:
        await client.check(small, call_context())
    assert limited.value.error_type == "RateLimited" and (limited.value.retry_after or 0) >= 1


def bug_workflow() -> dict[str, Any]:
    def jira(node_id: str, **config: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "integration", "label": "Jira", "config": config}

    return {
        "name": "Jira bug",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            jira("file", action="createIssue", projectKey="SUP", issueType="Bug",
                 summary="From chat: {{trigger.text}}",
                 description="Reported by {{customer.email}}",
                 outputVariable="issue"),
            jira("note", action="addComment", issueKey="{{workflow.issue.key}}",
                 body="The customer was told", outputVariable="comment"),
            {"id": "r", "type": "action", "label": "Send Reply",
             "config": {"message": "Filed as {{workflow.issue.key}}"}},
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "file"},
            {"id": "e2", "source": "file", "target": "note"},
            {"id": "e3", "source": "note", "target": "r"},
        ],
    }  # fmt: skip


async def test_a_workflow_files_a_bug_and_comments_on_it(
    api: TenantApi, site: dict[str, Any]
) -> None:
    await connect(
        api.http, api.tenant.headers, "jira", name="Bugs",
        config={"site": site["site"], "base_url": SANDBOX_URL},
        credentials={"email": site["email"], "api_token": site["api_token"]},
    )  # fmt: skip
    await api.activate(bug_workflow())
    trigger_id = await api.message(
        "The app crashes", conversation_id="jira-1", customer={"email": "ana@example.com"}
    )
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    assert done["variables"]["workflow"]["issue"]["key"] == "SUP-1"
    now = await site_now(site["site"])
    [issue] = now["issues"]
    assert issue["fields"]["summary"] == "From chat: The app crashes"
    assert len(now["comments"]["SUP-1"]) == 1
    assert site["api_token"] not in str(done)


async def test_jira_by_oauth_by_cloud_id_with_rotating_refresh_tokens(
    api: TenantApi, site: dict[str, Any]
) -> None:
    client_id = await register_app("jira", site["site"], access_lifetime=3)
    made = await connect(
        api.http, api.tenant.headers, "jira", name="Jira by OAuth",
        config={"site": site["site"], "base_url": SANDBOX_URL},
    )  # fmt: skip
    url, callback = await authorize(api, made["id"])
    assert "audience=api.atlassian.com" in url
    assert callback.status_code == 200, callback.text
    assert callback.json()["config"]["cloud_id"] == site["cloud_id"]

    async def check() -> dict[str, Any]:
        answer = await api.http.post(
            f"/v1/connections/{made['id']}/check", headers=api.tenant.headers
        )
        return dict(answer.json())

    assert (await check())["ok"] is True
    for _ in range(2):  # each renewal spends the refresh token the last one gave
        await asyncio.sleep(2.5)
        checked = await check()
        assert checked["ok"] is True, checked
    assert (await sandbox_state(f"/sandbox/oauth/apps/{client_id}"))["refreshed"] == 2
