"""Zendesk through its Support API against the provider sandbox's Zendesk: the integrations
service's client (tickets made once per idempotency key, read, updated, commented; users by id
or email), Zendesk's refusals typed, its 429 RateLimited with Retry-After, and a workflow that
files a ticket for the customer through the whole stack."""

from __future__ import annotations

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
from contracts.connections import ZendeskConfig
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection
from integrations.providers.zendesk import ZendeskClient

pytestmark = pytest.mark.e2e


async def new_account(limit: int = 400) -> dict[str, Any]:
    return await sandbox_made("/sandbox/zendesk/accounts", {"limit": limit})


async def account_now(subdomain: str) -> dict[str, Any]:
    return await sandbox_state(f"/sandbox/zendesk/accounts/{subdomain}")


@pytest.fixture
async def account(stack: Stack) -> dict[str, Any]:
    return await new_account()


client = client_fixture(ZendeskClient)


def connection(account: dict[str, Any], token: str | None = None) -> Connection:
    config = ZendeskConfig(subdomain=account["subdomain"], base_url=SANDBOX_URL)
    return provider_connection(
        "zendesk", config, email=account["email"], api_token=token or account["api_token"]
    )


async def test_tickets_and_users(client: ZendeskClient, account: dict[str, Any]) -> None:
    desk = connection(account)
    ask = {
        "subject": "Mug arrived broken",
        "body": "Photo attached",
        "priority": "high",
        "requesterEmail": "bo@example.com",
        "requesterName": "Bo",
        "tags": "damaged mug",
    }
    made = await client.call(desk, "createTicket", ask, call_context("t1"))
    again = await client.call(desk, "createTicket", ask, call_context("t1"))  # a redelivery
    assert again["id"] == made["id"] and made["tags"] == ["damaged", "mug"]
    assert (await account_now(account["subdomain"]))["creates"] == 1
    bo = await client.call(desk, "getUser", {"email": "bo@example.com"}, call_context())
    assert bo["name"] == "Bo" and made["requester_id"] == bo["id"]
    commented = await client.call(
        desk, "addComment", {"ticketId": made["id"], "body": "Sorry!"}, call_context()
    )
    assert commented["status"] == "open"
    solved = await client.call(
        desk, "updateTicket", {"ticketId": str(made["id"]), "status": "solved"}, call_context()
    )
    read = await client.call(desk, "getTicket", {"ticketId": made["id"]}, call_context())
    assert solved["status"] == read["status"] == "solved"
    assert (await client.check(desk, call_context()))["role"] == "agent"
    comments = (await account_now(account["subdomain"]))["comments"][str(made["id"])]
    assert [c["body"] for c in comments] == ["Photo attached", "Sorry!"]


async def test_zendesks_refusals_are_typed(client: ZendeskClient, account: dict[str, Any]) -> None:
    desk = connection(account)

    async def refused(on: Connection, action: str, **params: Any) -> IntegrationError:
        return await refusal(client, on, action, params)

    kinds = {
        "token": await refused(connection(account, "wrong-token-CANARY"), "getTicket", ticketId=1),
        "missing": await refused(desk, "getTicket", ticketId=1),
        "status": await refused(desk, "createTicket", subject="x", status="nope"),
        "no user": await refused(desk, "getUser", email="nobody@example.com"),
        "no id": await refused(desk, "getTicket", ticketId="1; drop"),
    }
    assert {name: e.error_type for name, e in kinds.items()} == {
        "token": "Unauthorized",
        "missing": "NotFound",
        "status": "Invalid",
        "no user": "NotFound",
        "no id": "Invalid",
    }
    assert "Status: nope is not valid" in str(kinds["status"])
    assert "CANARY" not in str(kinds["token"])
    small = connection(await new_account(limit=1))
    await client.check(small, call_context())
    with pytest.raises(IntegrationError) as limited:
        await client.check(small, call_context())
    assert limited.value.error_type == "RateLimited" and 1 <= (limited.value.retry_after or 0) <= 60


def ticket_workflow() -> dict[str, Any]:
    def zendesk(node_id: str, **config: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "integration", "label": "Zendesk", "config": config}

    return {
        "name": "Zendesk ticket",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            zendesk("file", action="createTicket", subject="Chat: {{trigger.text}}",
                    body="{{trigger.text}}", requesterEmail="{{customer.email}}",
                    outputVariable="ticket"),
            {"id": "r", "type": "action", "label": "Send Reply",
             "config": {"message": "Ticket #{{workflow.ticket.id}} is {{workflow.ticket.status}}"}},
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "file"},
            {"id": "e2", "source": "file", "target": "r"},
        ],
    }  # fmt: skip


async def test_a_workflow_files_a_zendesk_ticket_for_the_customer(
    api: TenantApi, account: dict[str, Any]
) -> None:
    await connect(
        api.http, api.tenant.headers, "zendesk", name="Desk",
        config={"subdomain": account["subdomain"], "base_url": SANDBOX_URL},
        credentials={"email": account["email"], "api_token": account["api_token"]},
    )  # fmt: skip
    await api.activate(ticket_workflow())
    trigger_id = await api.message(
        "My order is late", conversation_id="zd-1", customer={"email": "ana@example.com"}
    )
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    ticket = done["variables"]["workflow"]["ticket"]
    [filed] = (await account_now(account["subdomain"]))["tickets"]
    assert filed["id"] == ticket["id"] and filed["subject"] == "Chat: My order is late"
    ana = next(u for u in (await account_now(account["subdomain"]))["users"]
               if u["email"] == "ana@example.com")  # fmt: skip
    assert filed["requester_id"] == ana["id"]
    assert account["api_token"] not in str(done)
