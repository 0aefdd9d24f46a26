"""The Postgres node against a real PostgreSQL (the cluster infra.sh starts; POSTGRES_ADMIN_DSN
names another): a tenant's database with its own role, queried by the integrations service's
client with bound parameters only, in a read-only transaction by default, under a statement
timeout and a row limit, rows JSON-safe, PostgreSQL's refusals typed, the password nowhere; and
a workflow that looks an order up through the whole stack."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from conftest import TenantApi
from connections import call_context, connect, provider_connection
from contracts.connections import PostgresConfig
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection
from integrations.providers.postgres import PostgresClient
from psycopg import sql

pytestmark = pytest.mark.e2e
ADMIN_DSN = os.environ.get(
    "POSTGRES_ADMIN_DSN",
    f"postgresql://postgres@127.0.0.1:{os.environ.get('FERRETDB_PG_PORT', '54329')}/postgres",
)


@dataclass(frozen=True)
class TenantDatabase:
    dsn: str
    password: str
    database: str
    role: str


@pytest.fixture
def tenant_db(infrastructure: None) -> Iterator[TenantDatabase]:
    """A database of the tenant's with a role that may read and add orders, not its secrets."""
    suffix = secrets.token_hex(4)
    role, database, password = f"app_{suffix}", f"shop_{suffix}", f"pw-CANARY{suffix}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(
            sql.SQL("create role {} login password {} in role connectflo_password").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    dsn = ADMIN_DSN.rsplit("/", 1)[0].replace("postgres@", f"{role}:{password}@") + "/" + database
    owner = ADMIN_DSN.rsplit("/", 1)[0] + "/" + database
    with psycopg.connect(owner, autocommit=True) as db:
        db.execute(
            """
            create table orders (
                id serial primary key, email text not null, total numeric(10, 2) not null,
                placed_at timestamptz not null default '2026-11-30T10:00:00Z', meta jsonb,
                tags text[], ref uuid default '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', raw bytea
            );
            insert into orders (email, total, meta, tags, raw) values
                ('ana@example.com', 120.50, '{"gift": true}', '{vip,eu}', '\\x0102'),
                ('bo@example.com', 9.99, null, '{}', null);
            create table card_numbers (pan text);
            """
        )
        db.execute(
            sql.SQL("grant select, insert on orders to {0}; grant usage on sequence "
                    "orders_id_seq to {0}").format(sql.Identifier(role))
        )  # fmt: skip
    try:
        yield TenantDatabase(dsn, password, database, role)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
            )
            admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


@pytest.fixture
async def client() -> AsyncIterator[PostgresClient]:
    made = PostgresClient()
    yield made
    await made.aclose()


def connection(dsn: str, **config: Any) -> Connection:
    return provider_connection("postgres", PostgresConfig(**config), dsn=dsn)


async def query(
    client: PostgresClient, dsn: str, statement: str, *params: Any, **config: Any
) -> dict[str, Any]:
    return await client.call(
        connection(dsn, **config),
        "query",
        {"query": statement, "params": list(params)},
        call_context(),
    )


async def refused(
    client: PostgresClient, dsn: str, statement: str, *params: Any, **config: Any
) -> IntegrationError:
    with pytest.raises(IntegrationError) as raised:
        await query(client, dsn, statement, *params, **config)
    return raised.value


async def test_values_are_bound_never_spliced_and_rows_are_json_safe(
    client: PostgresClient, tenant_db: TenantDatabase
) -> None:
    found = await query(
        client, tenant_db.dsn, "select * from orders where email = $1", "ana@example.com"
    )
    assert found["columns"] == ["id", "email", "total", "placed_at", "meta", "tags", "ref", "raw"]
    assert found["rowCount"] == 1 and found["truncated"] is False
    assert found["rows"][0] == {
        "id": 1,
        "email": "ana@example.com",
        "total": "120.50",
        "placed_at": "2026-11-30T10:00:00+00:00",
        "meta": {"gift": True},
        "tags": ["vip", "eu"],
        "ref": "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab",
        "raw": "AQI=",
    }
    injected = await query(
        client, tenant_db.dsn, "select id from orders where email = $1", "x' or '1'='1"
    )
    assert injected["rows"] == []
    typed = await query(
        client, tenant_db.dsn, "select $1::jsonb -> 'a' as a, $2::int + 1 as n", {"a": [1]}, 41
    )
    assert typed["rows"] == [{"a": [1], "n": 42}]
    problem = await refused(client, tenant_db.dsn, "select $1::int", "not a number")
    assert problem.error_type == "Invalid" and "22P02" in str(problem)


async def test_read_only_unless_configured_and_limited_in_time_and_rows(
    client: PostgresClient, tenant_db: TenantDatabase
) -> None:
    write = "insert into orders (email, total) values ($1, $2) returning id"
    problem = await refused(client, tenant_db.dsn, write, "cy@example.com", "5.00")
    assert problem.error_type == "Forbidden" and "read-only" in str(problem)
    added = await query(client, tenant_db.dsn, write, "cy@example.com", "5.00", read_only=False)
    assert added["rows"] == [{"id": 3}]
    many = await query(client, tenant_db.dsn, "select generate_series(1, 50) as n", max_rows=10)
    assert many["rowCount"] == 10 and many["truncated"] is True
    slow = await refused(client, tenant_db.dsn, "select pg_sleep(3)", statement_timeout_ms=200)
    assert slow.error_type == "Timeout" and "57014" in str(slow)
    # the session survives a refused statement: the next call on it works
    after = await query(client, tenant_db.dsn, "select count(*) as n from orders")
    assert after["rows"] == [{"n": 3}]


async def test_refusals_are_typed_and_never_show_the_password(
    client: PostgresClient, tenant_db: TenantDatabase
) -> None:
    port = urlsplit(tenant_db.dsn).port
    nowhere = tenant_db.dsn.replace(f":{port}/", ":1/")  # nothing listens on port 1
    kinds = {
        "forbidden": await refused(client, tenant_db.dsn, "select * from card_numbers"),
        "invalid": await refused(client, tenant_db.dsn, "select * from nowhere"),
        "syntax": await refused(client, tenant_db.dsn, "selec 1"),
        "unauthorized": await refused(
            client, tenant_db.dsn.replace(tenant_db.password, "wrong-CANARY"), "select 1"
        ),
        "unavailable": await refused(client, nowhere, "select 1"),
    }
    assert {name: e.error_type for name, e in kinds.items()} == {
        "forbidden": "Forbidden",
        "invalid": "Invalid",
        "syntax": "Invalid",
        "unauthorized": "Unauthorized",
        "unavailable": "Unavailable",
    }
    for error in kinds.values():
        assert "CANARY" not in str(error) and tenant_db.password not in str(error)
    assert "password authentication failed" in str(kinds["unauthorized"])
    empty = await refused(client, tenant_db.dsn, "  ")
    assert empty.error_type == "Invalid"
    with pytest.raises(IntegrationError, match="params must be a list"):
        await client.call(
            connection(tenant_db.dsn), "query", {"query": "select 1", "params": "1"}, call_context()
        )


async def test_sessions_are_reused_until_the_dsn_changes_and_check_reads_who_we_are(
    client: PostgresClient, tenant_db: TenantDatabase
) -> None:
    pid = "select pg_backend_pid() as pid"
    first = (await query(client, tenant_db.dsn, pid))["rows"]
    assert (await query(client, tenant_db.dsn, pid))["rows"] == first
    other = tenant_db.dsn + "?application_name=rotated"
    assert (await query(client, other, pid))["rows"] != first
    checked = await client.check(connection(tenant_db.dsn), call_context())
    assert checked["user"] == tenant_db.role and checked["database"] == tenant_db.database
    assert checked["server_version"][:2].isdigit()


def lookup_workflow() -> dict[str, Any]:
    """The customer's last order by their email, and a reply with its total."""
    return {
        "name": "Order lookup",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            {
                "id": "q",
                "type": "integration",
                "label": "Postgres",
                "config": {
                    "action": "query",
                    "query": "select id, total from orders where email = $1 order by id desc",
                    "params": ["{{customer.email}}"],
                    "outputVariable": "orders",
                },
            },
            {
                "id": "r",
                "type": "action",
                "label": "Send Reply",
                "config": {"message": "Your last order: {{workflow.orders.rows[0].total}}"},
            },
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "q"},
            {"id": "e2", "source": "q", "target": "r"},
        ],
    }  # fmt: skip


async def test_a_workflow_looks_an_order_up_in_the_tenants_database(
    api: TenantApi, tenant_db: TenantDatabase
) -> None:
    made = await connect(
        api.http, api.tenant.headers, "postgres", name="Shop DB",
        credentials={"dsn": tenant_db.dsn}, config={"max_rows": 5},
    )  # fmt: skip
    assert made["credentials"]["fields"] == ["dsn"] and tenant_db.password not in str(made)
    checked = await api.http.post(f"/v1/connections/{made['id']}/check", headers=api.tenant.headers)
    assert checked.json()["ok"] is True, checked.text
    assert checked.json()["result"]["database"] == tenant_db.database
    await api.activate(lookup_workflow())
    trigger_id = await api.message(
        "where is my order?", conversation_id="pg-1", customer={"email": "ana@example.com"}
    )
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    orders = done["variables"]["workflow"]["orders"]
    assert orders["rows"] == [{"id": 1, "total": "120.50"}] and orders["columns"] == ["id", "total"]
    assert tenant_db.password not in str(done)
