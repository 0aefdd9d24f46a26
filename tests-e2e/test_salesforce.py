"""Salesforce through its REST API against the provider sandbox's Salesforce: the integrations
service's client (leads, contacts, cases; SOQL with bindings, a hostile value kept a literal,
pages followed), Salesforce's refusals typed, the daily limit RateLimited; a workflow that
opens a case for the customer's contact; and Salesforce connected by OAuth with PKCE, its
instance URL from the grant, its token refreshed after a 401 (Salesforce says no expiry)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
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
from contracts.connections import SalesforceConfig
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection
from integrations.providers.salesforce import SalesforceClient
from test_oauth import authorize, register_app

pytestmark = pytest.mark.e2e
INSTANCE = "https://acme.my.salesforce.com"


async def new_org(limit: int = 15_000) -> dict[str, Any]:
    return await sandbox_made("/sandbox/salesforce/orgs", {"limit": limit})


async def org_now(org_id: str) -> dict[str, Any]:
    return await sandbox_state(f"/sandbox/salesforce/orgs/{org_id}")


@pytest.fixture
async def org(stack: Stack) -> dict[str, Any]:
    return await new_org()


client = client_fixture(SalesforceClient)


def connection(org: dict[str, Any], token: str | None = None) -> Connection:
    config = SalesforceConfig(instance_url=INSTANCE, base_url=SANDBOX_URL)
    return provider_connection("salesforce", config, access_token=token or org["access_token"])


async def test_leads_contacts_cases_and_soql(client: SalesforceClient, org: dict[str, Any]) -> None:
    crm = connection(org)
    lead = await client.call(
        crm, "createLead", {"LastName": "Chen", "Company": "Bo Ltd", "Email": "bo@x.com"},
        call_context(),
    )  # fmt: skip
    assert lead["success"] is True and lead["id"].startswith("00Q")
    assert await client.call(
        crm, "updateLead", {"leadId": lead["id"], "fields": {"Status": "Working"}}, call_context()
    ) == {"id": lead["id"], "updated": True}
    found = await client.call(
        crm, "query",
        {"soql": "SELECT Id, Name, Email FROM Contact WHERE Email = :email",
         "bindings": {"email": "ana@example.com"}},
        call_context(),
    )  # fmt: skip
    [ana] = found["records"]
    assert ana["Name"] == "Ana Lopez"
    hostile = await client.call(
        crm, "query",
        {"soql": "SELECT Id FROM Contact WHERE Email = :email",
         "bindings": {"email": "x' OR Email != '"}},
        call_context(),
    )  # fmt: skip
    assert hostile["records"] == []  # the value stayed a literal
    contact = await client.call(
        crm, "getContact", {"contactId": ana["Id"], "fields": ["Email", "Phone"]}, call_context()
    )
    assert (contact["Email"], contact["Phone"]) == ("ana@example.com", "+14155550101")
    case = await client.call(
        crm, "createCase", {"Subject": "Broken mug", "ContactId": ana["Id"]}, call_context()
    )
    assert case["id"].startswith("500")
    for n in range(230):
        await client.call(crm, "createLead", {"LastName": f"L{n}", "Company": "C"}, call_context())
    many = await client.call(
        crm, "query", {"soql": "SELECT Id FROM Lead", "maxRecords": 5000}, call_context()
    )
    assert (many["totalSize"], len(many["records"]), many["done"]) == (231, 231, True)
    assert (await client.check(crm, call_context()))["reachable"] is True


async def test_salesforces_refusals_are_typed(
    client: SalesforceClient, org: dict[str, Any]
) -> None:
    crm = connection(org)

    async def refused(on: Connection, action: str, **params: Any) -> IntegrationError:
        return await refusal(client, on, action, params)

    kinds = {
        "session": await refused(
            connection(org, "00Dbad!CANARY"), "query", soql="SELECT Id FROM Lead"
        ),
        "missing": await refused(crm, "getContact", contactId="003000000000000AAA"),
        "required": await refused(crm, "createLead", FirstName="x"),
        "soql": await refused(crm, "query", soql="SELECT Id FORM Lead"),
        "binding": await refused(crm, "query", soql="SELECT Id FROM Lead WHERE Email = :e"),
        "id": await refused(crm, "getContact", contactId="../limits"),
    }
    assert {name: e.error_type for name, e in kinds.items()} == {
        "session": "Unauthorized",
        "missing": "NotFound",
        "required": "Invalid",
        "soql": "Invalid",
        "binding": "Invalid",
        "id": "Invalid",
    }
    assert "Required fields are missing: [LastName, Company]" in str(kinds["required"])
    assert "MALFORMED_QUERY" in str(kinds["soql"]) and "CANARY" not in str(kinds["session"])
    small = connection(await new_org(limit=1))
    await client.check(small, call_context())
    with pytest.raises(IntegrationError) as limited:
        await client.check(small, call_context())
    assert limited.value.error_type == "RateLimited" and "REQUEST_LIMIT_EXCEEDED" in str(
        limited.value
    )


def case_workflow() -> dict[str, Any]:
    def salesforce(node_id: str, **config: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "integration", "label": "Salesforce", "config": config}

    return {
        "name": "Salesforce case",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            salesforce("who", action="query",
                       soql="SELECT Id, Name FROM Contact WHERE Email = :email LIMIT 1",
                       bindings={"email": "{{customer.email}}"}, outputVariable="found"),
            salesforce("open", action="createCase", Subject="{{trigger.text}}", Origin="Chat",
                       ContactId="{{workflow.found.records[0].Id}}", outputVariable="case"),
            {"id": "r", "type": "action", "label": "Send Reply",
             "config": {"message": "Case {{workflow.case.id}} opened"}},
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "who"},
            {"id": "e2", "source": "who", "target": "open"},
            {"id": "e3", "source": "open", "target": "r"},
        ],
    }  # fmt: skip


async def test_a_workflow_opens_a_case_for_the_customers_contact(
    api: TenantApi, org: dict[str, Any]
) -> None:
    await connect(
        api.http, api.tenant.headers, "salesforce", name="CRM",
        config={"instance_url": INSTANCE, "base_url": SANDBOX_URL},
        credentials={"access_token": org["access_token"]},
    )  # fmt: skip
    await api.activate(case_workflow())
    trigger_id = await api.message(
        "My mug broke", conversation_id="sf-1", customer={"email": "ana@example.com"}
    )
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    records = (await org_now(org["org_id"]))["records"]
    ana = next(c for c in records["Contact"] if c["Email"] == "ana@example.com")
    [case] = records["Case"]
    assert (case["Subject"], case["Origin"], case["ContactId"]) == (
        "My mug broke",
        "Chat",
        ana["Id"],
    )
    assert done["variables"]["workflow"]["case"]["id"] == case["Id"]
    assert org["access_token"] not in str(done)


async def test_salesforce_by_oauth_with_pkce_refreshed_after_a_401(
    api: TenantApi, org: dict[str, Any]
) -> None:
    client_id = await register_app("salesforce", org["org_id"])
    made = await connect(
        api.http, api.tenant.headers, "salesforce", name="CRM by OAuth",
        config={"instance_url": INSTANCE, "base_url": SANDBOX_URL},
    )  # fmt: skip
    url, callback = await authorize(api, made["id"])
    assert parse_qs(urlsplit(url).query)["code_challenge_method"] == ["S256"]
    assert callback.status_code == 200, callback.text
    connected = callback.json()
    assert connected["config"]["instance_url"].endswith(".my.salesforce.com")

    async def check() -> dict[str, Any]:
        answer = await api.http.post(
            f"/v1/connections/{made['id']}/check", headers=api.tenant.headers
        )
        return dict(answer.json())

    assert (await check())["ok"] is True
    async with httpx.AsyncClient(base_url=SANDBOX_URL) as sandbox:
        await sandbox.post(f"/sandbox/oauth/apps/{client_id}/expire")  # the session ends
    assert (await check())["ok"] is True
    assert (await sandbox_state(f"/sandbox/oauth/apps/{client_id}"))["refreshed"] == 1
