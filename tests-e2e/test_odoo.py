"""Odoo through its JSON-RPC API against the provider sandbox's Odoo: the integrations
service's client (log in once, search, read, create, update; Odoo's exceptions typed; a 429
RateLimited with its Retry-After; a changed password logs in anew), and a workflow that finds
the customer's partner and files a ticket, through the whole stack."""

from __future__ import annotations

import secrets
from typing import Any

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
)
from contracts.connections import OdooConfig
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection
from integrations.providers.odoo import OdooClient

pytestmark = pytest.mark.e2e
PASSWORD = "odoo-key-CANARY" + secrets.token_hex(4)


@pytest.fixture
async def database(stack: Stack) -> str:
    name = "acme_" + secrets.token_hex(4)
    await sandbox_made(
        "/sandbox/odoo/databases",
        {"name": name, "password": PASSWORD, "read_only_login": "viewer"},
    )
    return name


client = client_fixture(OdooClient)


def connection(database: str, username: str = "admin", password: str = PASSWORD) -> Connection:
    config = OdooConfig(url="https://acme.odoo.com", database=database, base_url=SANDBOX_URL)
    return provider_connection("odoo", config, username=username, password=password)


async def test_search_read_create_and_update_records(client: OdooClient, database: str) -> None:
    erp = connection(database)
    found = await client.call(
        erp,
        "searchRecords",
        {"model": "res.partner", "domain": [["email", "=", "ana@example.com"]], "fields": "name"},
        call_context(),
    )
    assert found == {"records": [{"id": 2, "name": "Ana Lopez"}], "count": 1}
    order = await client.call(
        erp, "getRecord", {"model": "sale.order", "recordId": "1"}, call_context()
    )
    assert order["partner_id"] == [2, "Ana Lopez"] and order["amount_total"] == 120.5
    made = await client.call(
        erp, "createRecord", {"model": "res.partner", "values": {"name": "Cy"}}, call_context()
    )
    updated = await client.call(
        erp,
        "updateRecord",
        {"model": "res.partner", "recordId": made["id"], "values": {"email": "cy@example.com"}},
        call_context(),
    )
    assert updated == {"id": made["id"], "updated": True}
    checked = await client.check(erp, call_context())
    assert checked["server_version"] == "18.0" and checked["uid"] > 1


async def refused(
    client: OdooClient, erp: Connection, action: str, **params: Any
) -> IntegrationError:
    return await refusal(client, erp, action, params)


async def test_odoos_refusals_are_typed_and_never_show_the_password(
    client: OdooClient, database: str
) -> None:
    erp = connection(database)
    kinds = {
        "missing": await refused(client, erp, "getRecord", model="res.partner", recordId=999),
        "invalid": await refused(client, erp, "createRecord", model="res.partner", values={}),
        "no model": await refused(client, erp, "searchRecords", model="no.such"),
        "bad field": await refused(
            client, erp, "searchRecords", model="res.partner", domain=[["nope", "=", 1]]
        ),
        "forbidden": await refused(
            client, connection(database, "viewer"), "createRecord",
            model="res.partner", values={"name": "Dee"},
        ),
        "wrong password": await refused(
            client, connection(database, password="wrong-CANARY"), "searchRecords",
            model="res.partner",
        ),
    }  # fmt: skip
    assert {name: e.error_type for name, e in kinds.items()} == {
        "missing": "NotFound",
        "invalid": "Invalid",
        "no model": "Invalid",
        "bad field": "Invalid",
        "forbidden": "Forbidden",
        "wrong password": "Unauthorized",
    }
    assert "not allowed to create" in str(kinds["forbidden"])
    for error in kinds.values():
        assert "CANARY" not in str(error) and "Traceback" not in str(error)
    async with httpx.AsyncClient(base_url=SANDBOX_URL) as sandbox:
        await sandbox.post(f"/sandbox/odoo/databases/{database}/rate-limited")
        limited = await refused(client, erp, "searchRecords", model="res.partner")
        await sandbox.post(
            f"/sandbox/odoo/databases/{database}/rate-limited", params={"on": "false"}
        )
    assert limited.error_type == "RateLimited" and limited.retry_after == 1.0


def ticket_workflow() -> dict[str, Any]:
    """The customer's partner by email, a ticket for them, and a reply naming it."""

    def odoo(node_id: str, **config: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "integration", "label": "Odoo", "config": config}

    return {
        "name": "Odoo ticket",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            odoo("find", action="searchRecords", model="res.partner",
                 domain=[["email", "=", "{{customer.email}}"]], fields=["name"],
                 outputVariable="partners"),
            odoo("file", action="createRecord", model="helpdesk.ticket",
                 values={"name": "{{trigger.text}}",
                         "partner_id": "{{workflow.partners.records[0].id}}"},
                 outputVariable="ticket"),
            {"id": "r", "type": "action", "label": "Send Reply",
             "config": {"message": "Ticket {{workflow.ticket.id}} filed"}},
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "find"},
            {"id": "e2", "source": "find", "target": "file"},
            {"id": "e3", "source": "file", "target": "r"},
        ],
    }  # fmt: skip


async def test_a_workflow_files_an_odoo_ticket_for_the_customer(
    api: TenantApi, database: str
) -> None:
    await connect(
        api.http, api.tenant.headers, "odoo", name="ERP",
        config={"url": "https://acme.odoo.com", "database": database, "base_url": SANDBOX_URL},
        credentials={"username": "admin", "password": PASSWORD},
    )  # fmt: skip
    await api.activate(ticket_workflow())
    trigger_id = await api.message(
        "My order is late", conversation_id="odoo-1", customer={"email": "ana@example.com"}
    )
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    ticket = done["variables"]["workflow"]["ticket"]
    async with httpx.AsyncClient(base_url=SANDBOX_URL) as sandbox:
        listed = await sandbox.get(f"/sandbox/odoo/databases/{database}/records/helpdesk.ticket")
    [filed] = listed.json()["records"]
    assert filed["id"] == ticket["id"] and filed["name"] == "My order is late"
    assert filed["partner_id"] == 2  # the interpolated id, as a number
    assert PASSWORD not in str(done)
