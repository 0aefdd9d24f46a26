"""The gateway's routes against in-memory repositories, a recording broker and a stub executor.

What the MongoDB queries return (filters, paging, races) is checked against the real
MongoDB-wire server in tests-e2e; here the routes' own decisions are: who may see what, which
status code, what is published."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from servicekit.sealing import Kek, Keyring, Sealed
from trigger_gateway.adapters.channels import ChannelConflict, PhoneNumber, TwilioAccount
from trigger_gateway.adapters.history import embedded_runs, runs_of
from trigger_gateway.adapters.reply_feed import ReplyFeed
from trigger_gateway.adapters.widgets import Widget, WidgetDirectory, widget_of
from trigger_gateway.adapters.workflows import UnknownVersion
from trigger_gateway.app import create_app
from trigger_gateway.domain.api_keys import digest
from trigger_gateway.handlers.deps import Gateway
from trigger_gateway.handlers.ingress import TriggerIngress
from trigger_gateway.handlers.widget_state import WidgetChannel
from trigger_gateway.settings import Settings

with warnings.catch_warnings():  # Starlette would rather have httpx2; httpx is what we use
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Doc = dict[str, Any]
ADMIN = "test-admin-token"
KEYS = {"key-a": "ten_a", "key-b": "ten_b"}


def seq(doc: Doc) -> int:
    return int(doc["seq"])


def by_newest(docs: list[Doc], field_name: str) -> list[Doc]:
    return sorted(docs, key=lambda d: (d[field_name], d["_id"]), reverse=True)


def past(docs: list[Doc], field_name: str, position: tuple[Any, ...] | None) -> list[Doc]:
    if position is None:
        return docs
    return [d for d in docs if (d[field_name], d["_id"]) < tuple(position)]


class MemoryReceipts:
    """Trigger receipts (provider event ids seen), in memory."""

    def __init__(self) -> None:
        self.receipts: dict[str, dict[str, Any]] = {}

    async def record(self, tenant_id: str, event_id: str, trigger_id: str) -> Any:
        key = f"{tenant_id}:{event_id}"
        if key in self.receipts:
            return self.receipts[key]
        self.receipts[key] = {"trigger_id": trigger_id, "published": False}
        return None

    async def mark_published(self, tenant_id: str, event_id: str) -> None:
        self.receipts[f"{tenant_id}:{event_id}"]["published"] = True


class MemoryTenants:
    async def tenant_for_key(self, key_digest: str) -> str | None:
        return {digest(k): t for k, t in KEYS.items()}.get(key_digest)


class MemoryWorkflows:
    def __init__(self) -> None:
        self.workflows: dict[str, Doc] = {}
        self.versions_: dict[str, Doc] = {}

    async def create(self, workflow: Doc, definition: Doc) -> None:
        self.workflows[workflow["_id"]] = dict(workflow)
        self._add_version(workflow["_id"], 1, definition, workflow["created_at"])

    def _add_version(self, workflow_id: str, version: int, definition: Doc, at: datetime) -> None:
        self.versions_[f"{workflow_id}:{version}"] = {
            "_id": f"{workflow_id}:{version}",
            "version": version,
            "name": definition["name"],
            "trigger_type": definition["triggerType"],
            "node_count": len(definition["nodes"]),
            "definition": definition,
            "created_at": at,
        }

    async def get(self, tenant_id: str, workflow_id: str) -> Doc | None:
        doc = self.workflows.get(workflow_id)
        return dict(doc) if doc and doc["tenant_id"] == tenant_id else None

    async def page(self, tenant_id: str, *, limit: int, after: Any) -> list[Doc]:
        mine = [d for d in self.workflows.values() if d["tenant_id"] == tenant_id]
        return past(by_newest(mine, "created_at"), "created_at", after)[:limit]

    async def publish(self, tenant_id: str, workflow_id: str, definition: Doc) -> Any:
        doc = self.workflows.get(workflow_id)
        if doc is None or doc["tenant_id"] != tenant_id:
            return None
        doc["latest_version"] += 1
        self._add_version(workflow_id, doc["latest_version"], definition, datetime.now())
        return dict(doc), doc["latest_version"]

    async def versions(self, workflow_id: str, *, limit: int, before: int | None) -> list[Doc]:
        mine = [v for k, v in self.versions_.items() if k.startswith(workflow_id + ":")]
        mine = [v for v in mine if before is None or v["version"] < before]
        return sorted(mine, key=lambda v: -v["version"])[:limit]

    async def version(self, workflow_id: str, version: int) -> Doc | None:
        return self.versions_.get(f"{workflow_id}:{version}")

    async def versioned_definition(self, workflow_id: str, version: int) -> Doc | None:
        found = await self.version(workflow_id, version)
        return None if found is None else found["definition"]

    async def activate(self, tenant_id: str, workflow_id: str, version: int | None = None) -> Any:
        doc = await self.get(tenant_id, workflow_id)
        if doc is None:
            return None
        number = doc["latest_version"] if version is None else version
        if f"{workflow_id}:{number}" not in self.versions_:
            raise UnknownVersion(f"workflow {workflow_id} has no version {number}")
        self.workflows[workflow_id].update(is_active=True, active_version=number)
        return dict(self.workflows[workflow_id])

    async def deactivate(self, tenant_id: str, workflow_id: str) -> Doc | None:
        if await self.get(tenant_id, workflow_id) is None:
            return None
        self.workflows[workflow_id]["is_active"] = False
        return dict(self.workflows[workflow_id])


class MemoryExecutions:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.runs: list[Doc] = []
        self.trigger_outcomes: dict[str, Doc] = {}

    async def trigger_outcome(self, tenant_id: str, trigger_id: str) -> Doc | None:
        doc = self.trigger_outcomes.get(trigger_id)
        return doc if doc and doc["tenant_id"] == tenant_id else None

    async def find(
        self, tenant_id: str, *, trigger_id: str | None, workflow_id: str | None, limit: int
    ) -> list[Doc]:
        mine = [
            d
            for d in self.docs.values()
            if d["tenant_id"] == tenant_id
            and trigger_id in (None, d.get("trigger_id"))
            and workflow_id in (None, d.get("workflow_id"))
        ]
        return by_newest(mine, "created_at")[:limit]

    async def get(self, tenant_id: str, execution_id: str) -> Doc | None:
        doc = self.docs.get(execution_id)
        return doc if doc and doc["tenant_id"] == tenant_id else None

    async def page(
        self, tenant_id: str, workflow_id: str, which: Any, *, limit: int, after: Any
    ) -> list[Doc]:
        mine = [
            d
            for d in self.docs.values()
            if (d["tenant_id"], d["workflow_id"]) == (tenant_id, workflow_id)
            and which.status in (None, d["status"])
        ]
        return past(by_newest(mine, "created_at"), "created_at", after)[:limit]

    async def node_runs(
        self, execution: Doc, *, limit: int, after_seq: int | None = None
    ) -> list[Doc]:
        """``runs`` holds stored documents, either shape (see ``history.runs_of``); the
        execution may hold its first runs itself (``history.embedded_runs``)."""
        stored = sorted((d for d in self.runs if d["execution_id"] == execution["_id"]), key=seq)
        embedded = embedded_runs(execution)
        last = execution.get("first_runs_last_seq", -1)
        mine = embedded + [run for doc in stored for run in runs_of(doc) if run["seq"] > last]
        return [r for r in mine if after_seq is None or r["seq"] > after_seq][:limit]


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.docs: list[Doc] = []

    async def page(
        self,
        *,
        tenant_id: str | None,
        consumer: str | None,
        topic: str | None,
        limit: int,
        after: Any,
    ) -> list[Doc]:
        mine = [
            d
            for d in self.docs
            if tenant_id in (None, d["original_headers"].get("tenant_id"))
            and consumer in (None, d["consumer"])
            and topic in (None, d["original_topic"])
        ]
        return past(by_newest(mine, "failed_at"), "failed_at", after)[:limit]


class MemoryConnections:
    """trigger_gateway.adapters.connections.ConnectionRepository in memory (it is tested on
    FerretDB in tests-e2e/test_connections.py)."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.assigned_to: dict[str, dict[str, str]] = {}

    async def create(self, doc: Doc) -> Doc:
        from trigger_gateway.adapters.connections import NameTaken

        if any(
            d["tenant_id"] == doc["tenant_id"] and d["name"] == doc["name"]
            for d in self.docs.values()
        ):
            raise NameTaken(doc["name"])
        now = datetime.now(UTC)
        self.docs[doc["_id"]] = {**doc, "created_at": now, "updated_at": now}
        if doc.get("is_default"):
            self._only_default(self.docs[doc["_id"]])
        return self.docs[doc["_id"]]

    async def update(
        self, tenant_id: str, connection_id: str, changes: Doc, unset: tuple[str, ...] = ()
    ) -> Doc | None:
        from trigger_gateway.adapters.connections import NameTaken

        doc = await self.get(tenant_id, connection_id)
        if doc is None:
            return None
        if "name" in changes and any(
            d["tenant_id"] == tenant_id and d["name"] == changes["name"] and d is not doc
            for d in self.docs.values()
        ):
            raise NameTaken(changes["name"])
        doc.update(changes, updated_at=datetime.now(UTC))
        for name in unset:
            doc.pop(name, None)
        if changes.get("is_default"):
            self._only_default(doc)
        return doc

    def _only_default(self, doc: Doc) -> None:
        for other in self.docs.values():
            if other is not doc and (other["tenant_id"], other["type"]) == (
                doc["tenant_id"],
                doc["type"],
            ):
                other["is_default"] = False

    async def list(self, tenant_id: str, type_name: str | None = None) -> list[Doc]:
        return sorted(
            (
                d
                for d in self.docs.values()
                if d["tenant_id"] == tenant_id and type_name in (None, d["type"])
            ),
            key=lambda d: (d["type"], d["name"]),
        )

    async def get(self, tenant_id: str, connection_id: str) -> Doc | None:
        doc = self.docs.get(connection_id)
        return doc if doc is not None and doc["tenant_id"] == tenant_id else None

    async def find(self, tenant_id: str, id_or_name: str) -> Doc | None:
        field = "_id" if id_or_name.startswith("con_") else "name"
        return next(
            (
                d
                for d in self.docs.values()
                if d["tenant_id"] == tenant_id and d[field] == id_or_name
            ),
            None,
        )

    async def delete(self, tenant_id: str, connection_id: str) -> Doc | None:
        doc = await self.get(tenant_id, connection_id)
        if doc is not None:
            del self.docs[connection_id]
            for chosen in self.assigned_to.values():
                if chosen.get(doc["type"]) == connection_id:
                    del chosen[doc["type"]]
        return doc

    async def record_check(self, tenant_id: str, connection_id: str, check: Doc) -> None:
        self.docs[connection_id]["last_check"] = check

    async def assign(self, tenant_id: str, workflow_id: str, connections: dict[str, str]) -> Doc:
        self.assigned_to[f"{tenant_id}:{workflow_id}"] = dict(connections)
        return {"connections": connections}

    async def assigned(self, tenant_id: str, workflow_id: str) -> dict[str, str]:
        return dict(self.assigned_to.get(f"{tenant_id}:{workflow_id}", {}))


class MemoryTwilioAccounts:
    """adapters/channels.TwilioAccountRepository in memory: an account sid and a number
    belong to one tenant (the MongoDB one: tests-e2e/test_twilio_accounts_store.py)."""

    def __init__(self) -> None:
        self.accounts: dict[str, TwilioAccount] = {}
        self.numbers: dict[str, PhoneNumber] = {}
        self.stale: tuple[PhoneNumber, TwilioAccount] | None = None

    async def get(self, tenant_id: str) -> TwilioAccount | None:
        account = self.accounts.get(tenant_id)
        if account is None:
            return None
        mine = sorted(
            (n for n in self.numbers.values() if n.tenant_id == tenant_id),
            key=lambda n: n.phone_number,
        )
        return replace(account, numbers=mine)

    async def put(
        self, tenant_id: str, account_sid: str, auth_token: Sealed | None, numbers: list[Any]
    ) -> TwilioAccount:
        if any(a.account_sid == account_sid and t != tenant_id for t, a in self.accounts.items()):
            raise ChannelConflict(account_sid=account_sid)
        taken = [
            n.phone_number
            for n in numbers
            if n.phone_number in self.numbers
            and self.numbers[n.phone_number].tenant_id != tenant_id
        ]
        if taken:
            raise ChannelConflict(numbers=taken)
        now = datetime.now()
        before = self.accounts.get(tenant_id)
        token = auth_token or (before.auth_token if before else None)
        assert token is not None, "the route checks there is a token"
        self.accounts[tenant_id] = TwilioAccount(
            tenant_id, account_sid, token, [], before.created_at if before else now, now
        )
        self.numbers = {k: n for k, n in self.numbers.items() if n.tenant_id != tenant_id}
        self.numbers.update({n.phone_number: n for n in numbers})
        found = await self.get(tenant_id)
        assert found is not None
        return found

    async def delete(self, tenant_id: str) -> bool:
        self.numbers = {k: n for k, n in self.numbers.items() if n.tenant_id != tenant_id}
        return self.accounts.pop(tenant_id, None) is not None

    async def for_number(
        self, phone_number: str, *, fresh: bool = False
    ) -> tuple[tuple[PhoneNumber, TwilioAccount] | None, bool]:
        """As stored now; ``stale``, when set, is answered first as if kept from before."""
        if self.stale is not None and not fresh:
            return self.stale, True
        number = self.numbers.get(phone_number)
        if number is None or number.tenant_id not in self.accounts:
            return None, False
        return (number, replace(self.accounts[number.tenant_id], numbers=[number])), False

    async def for_account_sid(
        self, account_sid: str, *, fresh: bool = False
    ) -> tuple[TwilioAccount | None, bool]:
        if self.stale is not None and not fresh:
            return self.stale[1], True
        found = next((a for a in self.accounts.values() if a.account_sid == account_sid), None)
        return found, False


@dataclass
class RecordingBroker:
    """servicekit's Publisher as the routes use it; ``failure``: what the next publishes
    raise instead (Unavailable: Kafka did not acknowledge in time)."""

    published: list[dict[str, Any]] = field(default_factory=list)
    failure: Exception | None = None

    async def publish(
        self, value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        if self.failure is not None:
            raise self.failure
        self.published.append({"value": value, "topic": topic, "key": key, "headers": headers})


def stub_executor(request: httpx.Request) -> httpx.Response:
    """Validation as the executor answers it: a node without a label is an error."""
    import json

    definition = json.loads(request.content)
    problems = [
        {"severity": "error", "node_id": n["id"], "message": "unknown node"}
        for n in definition["nodes"]
        if not n.get("label")
    ]
    return httpx.Response(200, json={"problems": problems})


class StubIntegrations:
    """The integrations service's internal "check connection" route: answers ``answer`` (a
    status of 0: unreachable), records what was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.status = 200
        self.answer: Doc = {"ok": True, "result": {"account": "acct_1"}, "error": None}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        if self.status == 0:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(self.status, json=self.answer)


@dataclass
class Harness:
    client: TestClient
    workflows: MemoryWorkflows
    executions: MemoryExecutions
    dead_letters: MemoryDeadLetters
    connections: MemoryConnections
    broker: RecordingBroker
    receipts: MemoryReceipts
    twilio: MemoryTwilioAccounts
    keyring: Keyring
    integrations: StubIntegrations

    def as_tenant(self, key: str = "key-a") -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def as_admin(self) -> dict[str, str]:
        return {"X-Admin-Token": ADMIN}


@pytest.fixture
def gw() -> Harness:
    settings = Settings(admin_token=ADMIN, public_url="http://gw.test")
    app = create_app(settings)
    harness = Harness(
        # as the server runs it, with the trigger ingress in front; no lifespan: nothing
        # connects to Kafka or MongoDB
        TestClient(TriggerIngress(app, lambda: app.state.gateway)),
        MemoryWorkflows(),
        MemoryExecutions(),
        MemoryDeadLetters(),
        MemoryConnections(),
        RecordingBroker(),
        MemoryReceipts(),
        MemoryTwilioAccounts(),
        Keyring([Kek("test1", os.urandom(32))]),
        StubIntegrations(),
    )
    executor = httpx.AsyncClient(
        transport=httpx.MockTransport(stub_executor), base_url="http://executor.test"
    )
    app.state.gateway = Gateway(
        settings=settings,
        broker=harness.broker,  # type: ignore[arg-type]
        tenants=MemoryTenants(),  # type: ignore[arg-type]
        workflows=harness.workflows,  # type: ignore[arg-type]
        receipts=harness.receipts,  # type: ignore[arg-type]
        executions=harness.executions,  # type: ignore[arg-type]
        dead_letters=harness.dead_letters,  # type: ignore[arg-type]
        connections=harness.connections,  # type: ignore[arg-type]
        executor_http=executor,
        integrations_http=httpx.AsyncClient(
            transport=httpx.MockTransport(harness.integrations), base_url="http://integrations.test"
        ),
        # conversations and contacts are tested on FerretDB (tests-e2e/test_conversations.py)
        conversations=None,  # type: ignore[arg-type]
        contacts=None,  # type: ignore[arg-type]
        twilio=harness.twilio,  # type: ignore[arg-type]
        keyring=harness.keyring,
    )
    return harness


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with this status: its fields."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "errors"}
    assert problem["status"] == status and problem["title"] and problem["detail"]
    return problem


@pytest.fixture
def expect_problem() -> Callable[[Any, int], dict[str, Any]]:
    return assert_problem


@pytest.fixture
def builder_json() -> Callable[..., Doc]:
    """A workflow as the builder saves it."""
    return workflow_json


def workflow_json(name: str = "Greeting", trigger: str = "Incoming Message") -> Doc:
    return {
        "name": name,
        "triggerType": trigger,
        "nodes": [
            {"id": "t", "type": "trigger", "label": trigger, "config": {}},
            {"id": "r", "type": "action", "label": "Send Reply", "config": {"message": "hi"}},
        ],
        "edges": [{"id": "e", "source": "t", "target": "r"}],
    }


class MemoryWidgets:
    """The chat widgets (adapters/widgets.WidgetRepository), in memory."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}

    async def create(self, tenant_id: str, widget_key: str, **fields: Any) -> Widget:
        now = datetime.now()
        doc = {"_id": widget_key, "tenant_id": tenant_id, "created_at": now, "updated_at": now}
        doc.update(fields, secret=fields["secret"].to_document())
        self.docs[widget_key] = doc
        return widget_of(doc)

    async def get(self, widget_key: str) -> Widget | None:
        doc = self.docs.get(widget_key)
        return None if doc is None else widget_of(doc)

    async def of_tenant(self, tenant_id: str) -> list[Widget]:
        return [widget_of(d) for d in self.docs.values() if d["tenant_id"] == tenant_id]

    async def update(self, tenant_id: str, widget_key: str, fields: Doc) -> Widget | None:
        doc = self.docs.get(widget_key)
        if doc is None or doc["tenant_id"] != tenant_id:
            return None
        doc.update(fields, updated_at=datetime.now())
        return widget_of(doc)

    async def delete(self, tenant_id: str, widget_key: str) -> bool:
        doc = self.docs.get(widget_key)
        if doc is None or doc["tenant_id"] != tenant_id:
            return False
        del self.docs[widget_key]
        return True


class MemoryReplyLog:
    """A conversation's outbound messages (adapters/widgets.ReplyLog), oldest first."""

    def __init__(self) -> None:
        self.messages: list[Doc] = []

    async def after(self, tenant_id: str, conversation_id: str, last_id: str | None) -> list[Doc]:
        mine = [
            m
            for m in self.messages
            if (m["tenant_id"], m["conversation_id"]) == (tenant_id, conversation_id)
        ]
        if last_id is None:
            return mine
        ids = [m["_id"] for m in mine]
        return mine[ids.index(last_id) + 1 :] if last_id in ids else []


@dataclass
class Chat:
    """The gateway with the chat widget channel on in-memory widgets and reply log."""

    gw: Harness
    widgets: MemoryWidgets
    replies: MemoryReplyLog
    feed: ReplyFeed
    channel: WidgetChannel


@pytest.fixture
def chat(gw: Harness) -> Chat:
    widgets, replies, feed = MemoryWidgets(), MemoryReplyLog(), ReplyFeed()
    directory = WidgetDirectory(widgets, gw.keyring)  # type: ignore[arg-type]
    channel = WidgetChannel(directory, replies, feed)  # type: ignore[arg-type]
    gw.client.app.app.state.widget_channel = channel  # type: ignore[attr-defined]
    return Chat(gw, widgets, replies, feed, channel)
