"""HubSpot through its CRM v3 objects API against the provider sandbox's HubSpot: the
integrations service's client (contacts created, read by id or email, updated; a deal and a
ticket associated with a contact), HubSpot's refusals typed, its 429 RateLimited, and a workflow
that files a ticket for the customer's contact through the whole stack."""

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
from contracts.connections import HubSpotConfig
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection
from integrations.providers.hubspot import HubSpotClient

pytestmark = pytest.mark.e2e


async def new_account(limit: int = 100) -> dict[str, Any]:
    return await sandbox_made("/sandbox/hubspot/accounts", {"limit": limit})


async def account_now(portal_id: int) -> dict[str, Any]:
    return await sandbox_state(f"/sandbox/hubspot/accounts/{portal_id}")


@pytest.fixture
async def account(stack: Stack) -> dict[str, Any]:
    return await new_account()


client = client_fixture(HubSpotClient)


def connection(account: dict[str, Any], token: str | None = None) -> Connection:
    config = HubSpotConfig(base_url=SANDBOX_URL)
    return provider_connection("hubspot", config, access_token=token or account["token"])


async def test_contacts_deals_and_tickets(client: HubSpotClient, account: dict[str, Any]) -> None:
    crm = connection(account)
    ana = await client.call(
        crm, "getContact", {"contactId": "ana@example.com", "idProperty": "email",
                            "properties": ["firstname", "phone"]}, call_context(),
    )  # fmt: skip
    assert ana["properties"] == {"firstname": "Ana", "phone": "+14155550101"}
    made = await client.call(
        crm, "createContact", {"email": "cy@example.com", "firstname": "Cy"}, call_context()
    )
    assert made["properties"]["email"] == "cy@example.com" and made["id"].isdigit()
    changed = await client.call(
        crm,
        "updateContact",
        {"contactId": made["id"], "properties": {"phone": "+1555"}},
        call_context(),
    )
    assert changed["properties"]["phone"] == "+1555"
    deal = await client.call(
        crm,
        "createDeal",
        {"dealname": "Renewal", "amount": 1200, "contactId": ana["id"]},
        call_context(),
    )
    ticket = await client.call(
        crm, "createTicket", {"subject": "Late order", "contactId": ana["id"]}, call_context()
    )
    assert deal["properties"]["dealstage"] == "appointmentscheduled"
    assert ticket["properties"]["hs_pipeline_stage"] == "1"
    links = (await account_now(account["portal_id"]))["associations"]
    assert [(a["from"][0], a["to"][1], a["typeId"]) for a in links] == [
        ("deals", ana["id"], 3), ("tickets", ana["id"], 16)
    ]  # fmt: skip
    assert (await client.check(crm, call_context()))["reachable"] is True


async def test_hubspots_refusals_are_typed(client: HubSpotClient, account: dict[str, Any]) -> None:
    async def refused(crm: Connection, action: str, **params: Any) -> IntegrationError:
        return await refusal(client, crm, action, params)

    crm = connection(account)
    kinds = {
        "token": await refused(connection(account, "pat-na1-wrong"), "getContact", contactId=1),
        "missing": await refused(crm, "getContact", contactId="999999"),
        "taken": await refused(crm, "createContact", email="ana@example.com"),
        "property": await refused(crm, "createContact", email="x@y.z", shoe_size=9),
        "nothing": await refused(crm, "createContact", phone="+1"),
    }
    assert {name: e.error_type for name, e in kinds.items()} == {
        "token": "Unauthorized",
        "missing": "NotFound",
        "taken": "Conflict",
        "property": "Invalid",
        "nothing": "Invalid",
    }
    assert "Existing ID" in str(kinds["taken"]) and "pat-na1-wrong" not in str(kinds["token"])
    small = connection(await new_account(limit=2))
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(await client.check(small, call_context()))
        except IntegrationError as exc:
            outcomes.append(exc)
    limited = outcomes[-1]
    assert isinstance(limited, IntegrationError) and limited.error_type == "RateLimited"
    assert limited.retry_after == 1.0


def ticket_workflow() -> dict[str, Any]:
    def hubspot(node_id: str, **config: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "integration", "label": "HubSpot", "config": config}

    return {
        "name": "HubSpot ticket",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            hubspot("who", action="getContact", contactId="{{customer.email}}",
                    idProperty="email", outputVariable="contact"),
            hubspot("file", action="createTicket", subject="{{trigger.text}}",
                    contactId="{{workflow.contact.id}}", outputVariable="ticket"),
            {"id": "r", "type": "action", "label": "Send Reply",
             "config": {"message": "Ticket {{workflow.ticket.id}} filed"}},
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "who"},
            {"id": "e2", "source": "who", "target": "file"},
            {"id": "e3", "source": "file", "target": "r"},
        ],
    }  # fmt: skip


async def test_a_workflow_files_a_ticket_for_the_customers_contact(
    api: TenantApi, account: dict[str, Any]
) -> None:
    await connect(
        api.http, api.tenant.headers, "hubspot", name="CRM",
        config={"base_url": SANDBOX_URL}, credentials={"access_token": account["token"]},
    )  # fmt: skip
    await api.activate(ticket_workflow())
    trigger_id = await api.message(
        "My order is late", conversation_id="hub-1", customer={"email": "ana@example.com"}
    )
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    ticket = done["variables"]["workflow"]["ticket"]
    [filed] = (await account_now(account["portal_id"]))["objects"]["tickets"]
    assert filed["id"] == ticket["id"] and filed["properties"]["subject"] == "My order is late"
    assert account["token"] not in str(done)
