"""The gateway's routes against in-memory repositories, a recording broker and a stub executor.

What the MongoDB queries return (filters, paging, races) is checked against the real
MongoDB-wire server in tests-e2e; here the routes' own decisions are: who may see what, which
status code, what is published.

The AI and knowledge resources (documents, search, AI configurations, classification, workflow
resources, plans: fixture ``kb``) run on their real repositories instead, over a database
given twice (``resources_db``): in memory (``MemoryDatabase``) and on the MongoDB-wire server
of MONGO_URI (the local FerretDB; skipped when none answers), so their queries, limits and
races are checked where FerretDB's limits apply."""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import SimpleNamespace
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
    """Validation as the executor answers it: a node without a label is an error; preview as
    ``stub_preview`` answers it."""
    import json

    if request.url.path == "/v1/workflows/preview":
        return stub_preview(request)
    definition = json.loads(request.content)
    problems = [
        {"severity": "error", "node_id": n["id"], "message": "unknown node"}
        for n in definition["nodes"]
        if not n.get("label")
    ]
    return httpx.Response(200, json={"problems": problems})


def stub_preview(request: httpx.Request) -> httpx.Response:
    """The executor's preview route, by the trigger's type: `Unreachable` is a connection
    refused, `Slow` the executor's time-limit problem, `Broken` a 500; otherwise a completed
    report whose `workflow` variables are the request as the executor received it."""
    import json

    asked = json.loads(request.content)
    trigger = asked["trigger"]["type"]
    if trigger == "Unreachable":
        raise httpx.ConnectError("connection refused", request=request)
    if trigger == "Broken":
        return httpx.Response(500, json={"detail": "boom"})
    if trigger == "Slow":
        problem = {
            "type": "urn:connectflo:problem:preview-timeout",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": "the preview ran longer than 5 s, its limit",
            "errors": [{"name": "body.definition", "reason": "the preview ran longer than 5 s"}],
        }
        headers = {"content-type": "application/problem+json"}
        return httpx.Response(422, json=problem, headers=headers)
    report = {
        "status": "completed",
        "executed": [{"node_id": "t", "label": trigger, "kind": "trigger", "status": "completed"}],
        "variables": {"workflow": {"asked": asked}, "conversation": {}},
        "effects": [],
        "error": None,
    }
    return httpx.Response(200, json=report)


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


def assert_limit_problem(response: Any, status: int, limit: str) -> dict[str, Any]:
    """A plan's limit refused it: a problem (409 or 413) whose members name the limit, the
    plan and what it allows."""
    from contracts.ai import PLANS

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"] == "urn:connectflo:problem:plan-limit" and problem["status"] == status
    assert problem["limit"] == limit and problem["title"]
    assert problem["detail"].startswith(f"plan {problem['plan']} allows ")
    assert f"({limit})" in problem["detail"]
    assert problem["allowed"] == getattr(PLANS[problem["plan"]], limit)
    return problem


@pytest.fixture
def expect_limit() -> Callable[[Any, int, str], dict[str, Any]]:
    return assert_limit_problem


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


# -- AI and knowledge resources: the routes on their real repositories, over a database ------


class MemoryCollection:
    """The part of PyMongo's AsyncCollection the gateway's repositories of AI and knowledge
    resources use (and TenantRepository, WorkflowRepository), in memory: equality (an array
    holds a value), $lt/$lte/$gt/$gte/$ne/$in/$exists, $or, $and; $set/$unset (dotted), $inc,
    $max, $addToSet (with $each), $push, $pull, $pullAll, $setOnInsert; unique indexes. The
    same tests run on FerretDB too (``resources_db``), which is what shows the two agree."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.docs: dict[Any, Doc] = {}
        self.unique: list[list[str]] = []

    async def create_index(self, keys: list[tuple[str, int]], unique: bool = False) -> str:
        if unique:
            self.unique.append([k for k, _ in keys])
        return "_".join(k for k, _ in keys)

    def _check_unique(self, doc: Doc) -> None:
        from pymongo.errors import DuplicateKeyError

        for doc_id, other in self.docs.items():
            if doc_id == doc["_id"]:
                continue
            for fields in self.unique:
                if all(_get(other, f) == _get(doc, f) for f in fields):
                    raise DuplicateKeyError(f"E11000 duplicate key {fields}", 11000)

    async def insert_one(self, doc: Doc) -> Any:
        from pymongo.errors import DuplicateKeyError

        if doc["_id"] in self.docs:
            raise DuplicateKeyError(f"E11000 duplicate key _id {doc['_id']}", 11000)
        self._check_unique(doc)
        self.docs[doc["_id"]] = copy.deepcopy(doc)
        return SimpleNamespace(inserted_id=doc["_id"])

    async def insert_many(self, docs: list[Doc]) -> Any:
        for doc in docs:
            await self.insert_one(doc)
        return SimpleNamespace(inserted_ids=[d["_id"] for d in docs])

    def _matching(self, query: Doc) -> list[Doc]:
        return [d for d in self.docs.values() if _matches(d, query)]

    async def find_one(self, query: Doc, projection: Doc | None = None) -> Doc | None:
        found = self._matching(query)
        return _projected(found[0], projection) if found else None

    def find(
        self,
        query: Doc,
        projection: Doc | None = None,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> MemoryCursor:
        found = self._matching(query)
        for field_name, direction in reversed(sort or []):
            found.sort(key=lambda d, f=field_name: _get(d, f), reverse=direction < 0)
        return MemoryCursor([_projected(d, projection) for d in found], limit)

    async def count_documents(self, query: Doc) -> int:
        return len(self._matching(query))

    async def update_one(self, query: Doc, update: Doc, upsert: bool = False) -> Any:
        return await self._update(query, update, upsert=upsert, many=False)

    async def update_many(self, query: Doc, update: Doc) -> Any:
        return await self._update(query, update, upsert=False, many=True)

    async def _update(self, query: Doc, update: Doc, *, upsert: bool, many: bool) -> Any:
        found = self._matching(query)[: None if many else 1]
        if not found and upsert:
            doc = {k: v for k, v in query.items() if not k.startswith("$")}
            _apply(
                doc,
                {**update, "$set": {**update.get("$setOnInsert", {}), **update.get("$set", {})}},
            )
            await self.insert_one(doc)
            return SimpleNamespace(matched_count=0, modified_count=0, upserted_id=doc["_id"])
        for doc in found:
            changed = copy.deepcopy(doc)
            _apply(changed, update)
            self._check_unique(changed)
            self.docs[doc["_id"]] = changed
        return SimpleNamespace(matched_count=len(found), modified_count=len(found))

    async def find_one_and_update(
        self,
        query: Doc,
        update: Doc,
        upsert: bool = False,
        return_document: Any = False,
        projection: Doc | None = None,
    ) -> Doc | None:
        before = await self.find_one(query)
        result = await self._update(query, update, upsert=upsert, many=False)
        doc_id = before["_id"] if before else getattr(result, "upserted_id", None)
        if doc_id is None:
            return None
        return _projected(self.docs[doc_id], projection) if return_document else before

    async def replace_one(self, query: Doc, doc: Doc) -> Any:
        found = self._matching(query)[:1]
        for old in found:
            self.docs[old["_id"]] = copy.deepcopy({**doc, "_id": old["_id"]})
        return SimpleNamespace(matched_count=len(found), modified_count=len(found))

    async def delete_one(self, query: Doc) -> Any:
        found = self._matching(query)[:1]
        for doc in found:
            del self.docs[doc["_id"]]
        return SimpleNamespace(deleted_count=len(found))

    async def delete_many(self, query: Doc) -> Any:
        found = self._matching(query)
        for doc in found:
            del self.docs[doc["_id"]]
        return SimpleNamespace(deleted_count=len(found))


class MemoryCursor:
    def __init__(self, docs: list[Doc], limit: int = 0) -> None:
        self._docs = docs
        self._limit = limit

    def limit(self, limit: int) -> MemoryCursor:
        return MemoryCursor(self._docs, limit)

    def __aiter__(self) -> Any:
        async def each() -> Any:
            for doc in self._docs[: self._limit or None]:
                yield doc

        return each()


class MemoryDatabase:
    """Collections by attribute or by name, made when first used."""

    def __init__(self) -> None:
        self.collections: dict[str, MemoryCollection] = {}
        self.name = "memory"

    def __getitem__(self, name: str) -> MemoryCollection:
        return self.collections.setdefault(name, MemoryCollection(name))

    def __getattr__(self, name: str) -> MemoryCollection:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    async def list_collection_names(self) -> list[str]:
        return sorted(self.collections)

    async def create_collection(self, name: str) -> MemoryCollection:
        return self[name]


_MISSING = object()


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return _MISSING
        doc = doc[part]
    return doc


def _compares(value: Any, operator: str, operand: Any) -> bool:
    try:
        return {
            "$lt": lambda: value < operand,
            "$lte": lambda: value <= operand,
            "$gt": lambda: value > operand,
            "$gte": lambda: value >= operand,
        }[operator]()
    except TypeError:
        return False


def _condition(value: Any, condition: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        for operator, operand in condition.items():
            if operator == "$ne":
                ok = operand not in values and value != operand
            elif operator == "$in":
                ok = any(v in operand for v in values)
            elif operator == "$exists":
                ok = (value is not _MISSING) == bool(operand)
            else:
                ok = value is not _MISSING and any(_compares(v, operator, operand) for v in values)
            if not ok:
                return False
        return True
    if value is _MISSING:
        return condition is None
    return value == condition or condition in values


def _matches(doc: Doc, query: Doc) -> bool:
    for key, condition in query.items():
        if key == "$or":
            if not any(_matches(doc, q) for q in condition):
                return False
        elif key == "$and":
            if not all(_matches(doc, q) for q in condition):
                return False
        elif not _condition(_get(doc, key), condition):
            return False
    return True


def _projected(doc: Doc, projection: Doc | None) -> Doc:
    doc = copy.deepcopy(doc)
    if not projection:
        return doc
    if all(not v for v in projection.values()):
        return {k: v for k, v in doc.items() if k not in projection}
    return {k: v for k, v in doc.items() if k == "_id" or projection.get(k)}


def _set(doc: Doc, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = copy.deepcopy(value)


def _apply(doc: Doc, update: Doc) -> None:
    for path, value in update.get("$set", {}).items():
        _set(doc, path, value)
    for path in update.get("$unset", {}):
        *parents, last = path.split(".")
        parent = _get(doc, ".".join(parents)) if parents else doc
        if isinstance(parent, dict):
            parent.pop(last, None)
    for path, value in update.get("$inc", {}).items():
        current = _get(doc, path)
        _set(doc, path, (0 if current is _MISSING else current) + value)
    for path, value in update.get("$max", {}).items():
        current = _get(doc, path)
        _set(doc, path, value if current is _MISSING else max(current, value))
    for path, value in update.get("$addToSet", {}).items():
        current = _get(doc, path)
        items = [] if current is _MISSING else list(current)
        each = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
        for item in each:
            items += [] if item in items else [item]
        _set(doc, path, items)
    for path, value in update.get("$push", {}).items():
        current = _get(doc, path)
        _set(doc, path, [*([] if current is _MISSING else current), value])
    for path, values in update.get("$pullAll", {}).items():
        current = _get(doc, path)
        if current is not _MISSING:
            _set(doc, path, [v for v in current if v not in values])
    for path, value in update.get("$pull", {}).items():
        current = _get(doc, path)
        if current is not _MISSING:
            _set(doc, path, [v for v in current if v != value])


@dataclass
class Knowledge:
    """The gateway with its real repositories of tenants, workflows and AI and knowledge
    resources on one database (in memory, or FerretDB), tenants ``ten_a`` (key ``key-a``)
    and ``ten_b`` (``key-b``), an async client, and the in-memory connections and Twilio
    numbers of the ``gw`` harness."""

    client: httpx.AsyncClient
    db: Any
    gw: Harness

    def as_tenant(self, key: str = "key-a") -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    async def workflow(self, key: str = "key-a") -> str:
        answer = await self.client.post(
            "/v1/workflows", json=workflow_json(), headers=self.as_tenant(key)
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def stored_workflow(self, workflow_id: str) -> Doc:
        found = await self.db.workflows.find_one({"_id": workflow_id})
        assert found is not None
        return dict(found)

    async def set_plan(self, plan: str, tenant: str = "ten_a") -> None:
        answer = await self.client.patch(
            f"/v1/tenants/{tenant}", json={"plan": plan}, headers=self.gw.as_admin()
        )
        assert answer.status_code == 200, answer.text


MONGO_URI = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
_MONGO_ANSWERS: list[bool] = []  # asked once per session


def _mongo_answers() -> bool:
    if not _MONGO_ANSWERS:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        client: MongoClient[Doc] = MongoClient(MONGO_URI, serverSelectionTimeoutMS=1500)
        try:
            client.admin.command("ping")
            _MONGO_ANSWERS.append(True)
        except PyMongoError:
            _MONGO_ANSWERS.append(False)
        finally:
            client.close()
    return _MONGO_ANSWERS[0]


@pytest.fixture(params=["memory", "ferretdb"])
async def resources_db(request: pytest.FixtureRequest) -> Any:
    """A fresh database: in memory, and on the MongoDB-wire server of MONGO_URI (the local
    FerretDB: deploy/local/infra.sh start mongo), skipped when none answers."""
    if request.param == "memory":
        yield MemoryDatabase()
        return
    if not _mongo_answers():
        pytest.skip(f"no MongoDB-wire server at {MONGO_URI} (deploy/local/infra.sh start mongo)")
    from pymongo import AsyncMongoClient

    client: Any = AsyncMongoClient(MONGO_URI, tz_aware=True, serverSelectionTimeoutMS=5000)
    db = client["gateway_" + os.urandom(4).hex()]
    try:
        yield db
    finally:
        await client.drop_database(db.name)
        await client.close()


@pytest.fixture
async def kb(gw: Harness, resources_db: Any) -> Any:
    from trigger_gateway.adapters.store import TenantRepository
    from trigger_gateway.adapters.workflows import WorkflowRepository
    from trigger_gateway.handlers.resource_state import assemble

    app = gw.client.app.app  # type: ignore[attr-defined]
    tenants = TenantRepository(resources_db)
    for key, tenant in KEYS.items():
        await tenants.create(tenant, f"Tenant {tenant}", digest(key), "free")
    app.state.gateway = replace(
        app.state.gateway, tenants=tenants, workflows=WorkflowRepository(resources_db)
    )
    app.state.resources = await assemble(resources_db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        yield Knowledge(client, resources_db, gw)
