"""In-memory stand-ins for the executor's MongoDB repositories and Kafka publisher, counting
calls, and a service built on them (tests/runtime: the end-to-end tests run the same code on
FerretDB)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope
from contracts.conversations import decoded_variables
from contracts.events import EffectSettled, Event, TriggerReceived
from executor.adapters.conversations import ConversationsExisted, ConversationWrites, Update
from executor.runtime.service import ExecutionService
from executor.runtime.step import Limits

Doc = dict[str, Any]


class Store:
    """Executions, node runs and workflows in memory, with call counts."""

    def __init__(self, definition: Doc) -> None:
        self.definition = definition
        self.executions: dict[str, Doc] = {}
        self.node_runs: dict[str, Doc] = {}
        self.trigger_outcomes: dict[str, Doc] = {}
        self.calls: list[str] = []
        self.activated_at: datetime | None = None

    # WorkflowCatalogue
    async def active_for(self, tenant_id: str, trigger_type: str) -> list[Doc]:
        self.calls.append("active_for")
        if trigger_type != self.definition["triggerType"]:
            return []
        workflow = {"_id": "wf_1", "active_version": 1, "name": "w", "trigger_type": trigger_type}
        return [{**workflow, "activated_at": self.activated_at}]

    async def active_of(self, tenant_id: str) -> dict[str, list[Doc]]:
        trigger_type = self.definition["triggerType"]
        return {trigger_type: await self.active_for(tenant_id, trigger_type)}

    async def definition_of(self, workflow_id: str, version: int) -> Doc:
        return self.definition

    # ExecutionRepository
    async def create_many(self, docs: list[Doc]) -> set[str]:
        if not docs:
            return set()
        self.calls.append(f"create_many:{len(docs)}")
        existed = {d["_id"] for d in docs if d["_id"] in self.executions}
        for d in docs:
            self.executions.setdefault(d["_id"], copy.deepcopy(d))
        return existed

    async def create(self, doc: Doc) -> bool:
        created = doc["_id"] not in self.executions
        self.executions.setdefault(doc["_id"], copy.deepcopy(doc))
        return created

    async def get(self, execution_id: str) -> Doc | None:
        self.calls.append("get")
        found = self.executions.get(execution_id)
        return copy.deepcopy(found) if found else None

    async def save(self, doc: Doc, expected_version: int, *, fresh: bool = False) -> None:
        self.calls.append("save")
        assert self.executions[doc["_id"]]["version"] == expected_version
        self.executions[doc["_id"]] = copy.deepcopy(doc)

    async def trigger_outcome(self, trigger_id: str) -> Doc | None:
        return self.trigger_outcomes.get(trigger_id)

    async def record_trigger_outcomes(self, docs: list[Doc]) -> None:
        self.calls.append(f"trigger_outcomes:{len(docs)}")
        for doc in docs:
            self.trigger_outcomes.setdefault(doc["_id"], doc)

    async def record_node_runs(self, runs: list[Doc]) -> None:
        self.calls.append(f"node_runs:{len(runs)}")
        for run in runs:
            self.node_runs.setdefault(run["_id"], run)


# An in-memory ConversationRepository: it applies the updates the executor plans ($set,
# $unset, $setOnInsert on dotted paths; a status filter) as MongoDB would, so a test sees what a
# second execution reads. The end-to-end tests run the real one on FerretDB.


def _matches(doc: Doc, filter_: Doc) -> bool:
    for key, wanted in filter_.items():
        value: Any = doc
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(wanted, dict) and "$in" in wanted:
            if value not in wanted["$in"]:
                return False
        elif value != wanted:
            return False
    return True


def _set(doc: Doc, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def _unset(doc: Doc, path: str) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.get(part, {})
    doc.pop(last, None)


def apply(collection: dict[str, Doc], update: Update) -> None:
    ref = update.filter["_id"]
    doc = collection.get(ref)
    if doc is None:
        if not update.upsert:
            return
        doc = {"_id": ref}
        for path, value in update.update.get("$setOnInsert", {}).items():
            _set(doc, path, value)
        collection[ref] = doc
    elif not _matches(doc, update.filter):
        return
    for path, value in update.update.get("$set", {}).items():
        _set(doc, path, copy.deepcopy(value))
    for path in update.update.get("$unset", {}):
        _unset(doc, path)
    for path, value in update.update.get("$addToSet", {}).items():
        items = doc.setdefault(path, [])
        items.extend(v for v in value["$each"] if v not in items)
    for path, value in update.update.get("$pullAll", {}).items():
        doc[path] = [v for v in doc.get(path, []) if v not in value]
    for path, value in update.update.get("$max", {}).items():
        current = doc
        for part in path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if current is None or value > current:
            _set(doc, path, value)


class MemoryConversations:
    def __init__(self) -> None:
        self.conversations_by_id: dict[str, Doc] = {}
        self.tenants: dict[str, Doc] = {}
        self.messages: dict[str, Doc] = {}
        self.contacts_by_id: dict[str, Doc] = {}
        self.addresses: dict[str, str] = {}
        self.calls: list[str] = []
        self.seen: set[str] = set()  # as the repository remembers what it read and wrote

    async def conversations(self, refs: Any) -> dict[str, Doc]:
        refs = set(refs)
        if refs:
            self.calls.append("read")
        self.seen.update(r for r in refs if r in self.conversations_by_id)
        return {
            r: copy.deepcopy(self.conversations_by_id[r])
            for r in refs
            if r in self.conversations_by_id
        }

    async def tenant_variables(self, tenants: Any) -> dict[str, Doc]:
        return {
            t: decoded_variables(self.tenants[t].get("variables"))
            for t in tenants
            if t in self.tenants
        }

    async def has_contacts(self, tenant_id: str) -> bool:
        return bool(self.contacts_by_id)

    async def contacts(self, refs: Any) -> dict[str, Doc]:
        return {
            r: copy.deepcopy(self.contacts_by_id[self.addresses[r]])
            for r in refs
            if r in self.addresses
        }

    def known(self, ref: str) -> bool:
        return ref in self.seen

    async def insert_new(self, writes: ConversationWrites) -> set[str]:
        existed = set()
        for doc, _ in writes.new_conversations:
            if doc["_id"] in self.conversations_by_id:
                existed.add(doc["_id"])
            else:
                self.conversations_by_id[doc["_id"]] = copy.deepcopy(doc)
            self.seen.add(doc["_id"])
        if existed & writes.assumed_new:
            self.calls.append("planned_as_new_but_existed")
            raise ConversationsExisted(existed & writes.assumed_new)
        return existed

    async def write(self, writes: ConversationWrites, existed: set[str]) -> None:
        self.calls.append("conversations")
        self.seen.update(writes.refs())
        for doc, update in writes.new_conversations:
            if doc["_id"] in existed:
                apply(self.conversations_by_id, Update({"_id": doc["_id"]}, update))
        for update in writes.conversations:
            apply(self.conversations_by_id, update)
        for update in writes.tenant_variables:
            apply(self.tenants, update)
        for message in writes.messages:
            self.messages.setdefault(message["_id"], message)

    def variables(self, ref: str) -> Doc:
        return decoded_variables(self.conversations_by_id[ref].get("variables"))


class Catalogue:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def active_for(self, tenant_id: str, trigger_type: str) -> list[Doc]:
        return await self.store.active_for(tenant_id, trigger_type)

    async def active_of(self, tenant_id: str) -> dict[str, list[Doc]]:
        return await self.store.active_of(tenant_id)

    async def definition(self, workflow_id: str, version: int) -> Doc:
        return await self.store.definition_of(workflow_id, version)


class Sent:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.events: list[tuple[str, Event]] = []

    async def __call__(self, value: bytes, topic: str, key: bytes | None, headers: Any) -> None:
        self.store.calls.append("send")
        self.events.append((topic, Envelope.parse(headers, value).data))

    def of(self, kind: type) -> list[Any]:
        return [event for _, event in self.events if isinstance(event, kind)]


def service(
    definition: Doc, conversations: MemoryConversations | None = None
) -> tuple[ExecutionService, Store, Sent]:
    store = Store(definition)
    sent = Sent(store)
    svc = ExecutionService(
        Catalogue(store),  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        conversations or MemoryConversations(),  # type: ignore[arg-type]
        sent,
        limits=Limits(),
    )
    return svc, store, sent


def trigger(trigger_id: str) -> Envelope[TriggerReceived]:
    event = TriggerReceived(
        trigger_id=trigger_id,
        tenant_id="ten_1",
        trigger_type="Incoming Message",
        conversation_id=f"conv-{trigger_id}",
        channel="chat",
        payload={"text": "hello"},
        received_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="/test", tenant_id="ten_1")


def command(event: Event) -> Envelope[Any]:
    return Envelope.wrap(event, source="/test", tenant_id="ten_1")


def settle(exe: Doc, effect_id: str, name: str) -> EffectSettled:
    return EffectSettled(
        command_id=f"settle:{effect_id}",
        execution_id=exe["_id"],
        tenant_id="ten_1",
        effect_id=effect_id,
        idempotency_key=f"{exe['_id']}:{effect_id}",
        result={"name": name},
    )


def message(trigger_id: str, conversation: str = "conv-1", **customer: Any) -> Envelope[Any]:
    event = TriggerReceived(
        trigger_id=trigger_id,
        tenant_id="ten_1",
        trigger_type="Incoming Message",
        conversation_id=conversation,
        channel="sms",
        payload={"text": f"text of {trigger_id}"},
        customer=customer or None,
        received_at=datetime.now(UTC),
        message={
            "contact_address": "+15550001111",
            "tenant_address": "+15559990000",
            "body": f"text of {trigger_id}",
            "provider": "twilio",
            "provider_message_id": "SM" + trigger_id,
        },
    )
    return Envelope.wrap(event, source="/test", tenant_id="ten_1")
