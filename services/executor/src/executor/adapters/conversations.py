"""Conversations, their message log, contacts and the tenant's variables, as the executor reads
and writes them (docs/architecture.md, *Conversations*).

The executor writes a conversation from two places, each a field-level atomic update, never a
read-modify-write: the trigger intake (a customer's message: the conversation upserted, its
message logged, its status) and the commands of its executions (the variables they changed,
the status their runs leave it in). The gateway's API writes status, tags and variables the same
way; the notifier logs outbound messages. Documents are keyed so every write is by ``_id``:
``<tenant>:<conversation id>`` for conversations, the tenant id for tenant variables,
``<tenant>:<kind>:<address>`` for the contact index.

A conversation also holds its reply waits (``reply_waits.<field>``: the executions waiting at a
Wait for Reply for its next customer message), registered and released with the batch's one
update of the conversation (or with its insert), and read with it: no collection of their own.

Variables are stored one field per variable (``variables.<name>``), each value as JSON text:
customer data may hold keys MongoDB refuses (``.``, ``$``), and two writers of different
variables never touch the same field. Field names are the variable names, percent-encoded
unless made of letters, digits, ``_`` and ``-`` only (an empty name is not persisted)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.conversations import (
    conversation_ref,
    decoded_variables,
    status_change,
    variable_field,
)
from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from servicekit.mongo import find_matching

Document = dict[str, Any]
PERSISTED_SCOPES = ("conversation", "global")
NO_CONTACTS_SECONDS = 2.0
# A conversation's status as its runs leave it; an agent's or a closed one is not the bot's.
BOT_STATUSES = ("open", "bot", "waiting_on_customer")


@dataclass(frozen=True)
class VariableWrite:
    """One persisted variable a command changed: its JSON text, or None when removed."""

    scope: str  # conversation or global
    name: str
    text: str | None


def scope_texts(variables: Document) -> dict[str, dict[str, str]]:
    """The persisted scopes of an engine context's variables, each value as JSON text."""
    return {
        scope: {
            name: json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
            for name, value in (variables.get(scope) or {}).items()
        }
        for scope in PERSISTED_SCOPES
    }


def changed_variables(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]
) -> list[VariableWrite]:
    writes = []
    for scope in PERSISTED_SCOPES:
        old, new = before.get(scope, {}), after.get(scope, {})
        writes += [VariableWrite(scope, n, t) for n, t in new.items() if n and old.get(n) != t]
        writes += [VariableWrite(scope, n, None) for n in old if n and n not in new]
    return writes


def merge_update(into: Document, update: Document) -> None:
    """``update`` ($set, $unset, $max, $push) applied after ``into``, as one update: a later
    write of a field replaces an earlier one, a field both set and raised is set to the larger
    value (MongoDB refuses two operators on one path), and pushes to one array are appended in
    order (``$each``)."""
    sets, unsets, maxes, pushes = (
        into.setdefault(op, {}) for op in ("$set", "$unset", "$max", "$push")
    )
    for name, value in update.get("$set", {}).items():
        unsets.pop(name, None)
        maxes.pop(name, None)
        sets[name] = value
    for name in update.get("$unset", {}):
        sets.pop(name, None)
        maxes.pop(name, None)
        unsets[name] = ""
    for name, value in update.get("$max", {}).items():
        if name in sets:
            sets[name] = value if sets[name] is None or value > sets[name] else sets[name]
        else:
            maxes[name] = max(maxes.get(name, value), value)
    for name, value in update.get("$push", {}).items():
        items = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
        pushes.setdefault(name, {"$each": []})["$each"].extend(items)
    for op in ("$set", "$unset", "$max", "$push"):
        if not into[op]:
            del into[op]


@dataclass(frozen=True)
class Update:
    """One update by ``_id`` (``filter`` may narrow it), as MongoDB takes it."""

    filter: Document
    update: Document
    upsert: bool = False

    def op(self) -> UpdateOne:
        return UpdateOne(self.filter, self.update, upsert=self.upsert)


@dataclass
class ConversationWrites:
    """A batch's writes to conversations, messages and tenant variables, in the order they were
    planned; done by one bulk write per collection (``ConversationRepository.write``)."""

    conversations: list[Update] = field(default_factory=list)
    tenant_variables: list[Update] = field(default_factory=list)
    messages: list[Document] = field(default_factory=list)
    # (document, update): inserted first; if it exists already, updated
    new_conversations: list[tuple[Document, Document]] = field(default_factory=list)
    # conversations this process had not seen, planned as new without a read: if one of
    # them exists after all, the flush stops before it writes anything (ConversationsExisted)
    assumed_new: set[str] = field(default_factory=set)
    _new: dict[str, Document] = field(default_factory=dict, repr=False)  # by _id
    # each conversation's unconditional update: one statement per conversation and batch
    # (FerretDB runs every statement of a bulk write as a read and a write of its own)
    _by_id: dict[str, Update] = field(default_factory=dict, repr=False)

    def refs(self) -> set[str]:
        """The conversations these writes touch."""
        return {u.filter["_id"] for u in self.conversations} | {
            doc["_id"] for doc, _ in self.new_conversations
        }

    def __bool__(self) -> bool:
        return bool(
            self.conversations or self.tenant_variables or self.messages or self.new_conversations
        )

    def upsert(
        self,
        ref: str,
        fields: Document,
        on_insert: Document,
        *,
        known: bool,
        times: Document | None = None,
    ) -> None:
        """A conversation read before (``known``) is updated; a new one is inserted (no
        upsert: FerretDB's upsert holds a connection while it waits for its metadata lock),
        and updated as well, in case a redelivery or a racing writer inserted it first.
        ``times`` (and ``updated_at``, the latest of them) only move forward (``$max``)."""
        times = dict(times or {})
        at = max(times.values(), default=None)
        if at is not None:
            times["updated_at"] = at
        if known:
            self._plain(ref, {"$set": fields, "$max": times})
        elif ref in self._new:
            new = self._new[ref]
            new.update(fields)
            for name, value in times.items():
                new[name] = max(new.get(name) or value, value)
        else:
            self._new[ref] = doc = {"_id": ref, **on_insert, **fields, **times}
            self.new_conversations.append((doc, {"$set": fields, "$max": times}))

    def status(self, ref: str, status: str, at: datetime) -> None:
        """The status a run leaves its conversation in, unless an agent has it or it closed;
        the change logged (``status_log``: SLA clocks pause and stop by it)."""
        new = self._new.get(ref)
        if new is not None and new.get("status") in BOT_STATUSES:
            new.update(status=status, updated_at=at, status_at=at)  # written with its insert
            new.setdefault("status_log", []).append({"status": status, "at": at})
            return
        change = status_change(status, at)
        self.conversations.append(
            Update(
                {"_id": ref, "status": {"$in": list(BOT_STATUSES)}},
                {"$set": {**change["$set"], "updated_at": at}, "$push": change["$push"]},
            )
        )

    def log_status(self, ref: str, status: str, at: datetime) -> None:
        """A status set by this batch's other writes (a reopening, a closing), logged."""
        entry = {"status": status, "at": at}
        new = self._new.get(ref)
        if new is not None:
            new["status_at"] = at
            new.setdefault("status_log", []).append(entry)
            self._if_existed(ref, {"$set": {"status_at": at}, "$push": {"status_log": entry}})
            return
        self._plain(ref, {"$set": {"status_at": at}, "$push": {"status_log": entry}})

    def tags(self, ref: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Tags added or removed (each its own update: MongoDB takes no ``$addToSet`` and
        ``$pullAll`` of one field in one update)."""
        add, remove = list(dict.fromkeys(add)), list(dict.fromkeys(remove))
        new = self._new.get(ref)
        if new is not None:  # inserted with them (or, if it existed, set to them)
            kept = [t for t in new.get("tags", []) if t not in remove]
            new["tags"] = kept + [t for t in add if t not in kept]
            self._if_existed(ref, {"$set": {"tags": new["tags"]}})
            return
        if add:
            self.conversations.append(Update({"_id": ref}, {"$addToSet": {"tags": {"$each": add}}}))
        if remove:
            self.conversations.append(Update({"_id": ref}, {"$pullAll": {"tags": remove}}))

    def close(self, ref: str, resolution: str, at: datetime) -> None:
        """End Chat: closed with its resolution; the customer's next message reopens it."""
        fields = {"status": "closed", "resolution": resolution, "closed_at": at, "updated_at": at}
        new = self._new.get(ref)
        if new is not None:
            new.update(fields)
            self._if_existed(ref, {"$set": fields})
        else:
            self.conversations.append(Update({"_id": ref}, {"$set": fields}))
        self.log_status(ref, "closed", at)

    def run_started(self, ref: str, workflow_id: str, execution_id: str) -> None:
        """The workflow's run in the conversation (its routing policy reads it)."""
        new = self._new.get(ref)
        if new is not None:
            new["active_runs"] = {**new.get("active_runs", {}), workflow_id: execution_id}
            return
        self.conversations.append(
            Update({"_id": ref}, {"$set": {f"active_runs.{workflow_id}": execution_id}})
        )

    def wait(self, ref: str, execution_id: str, effect_id: str, at: datetime) -> None:
        """An execution waits in the conversation for the customer's next message (its Wait
        for Reply ``effect_id``). A conversation nobody created is not created for it (the
        update matches nothing): no message of it can come without its conversation."""
        field = wait_field(execution_id, effect_id)
        value = {"execution_id": execution_id, "effect_id": effect_id, "created_at": at}
        new = self._new.get(ref)
        if new is not None:
            new.setdefault("reply_waits", {})[field] = value
            self._if_existed(ref, {"$set": {f"reply_waits.{field}": value}})
            return
        self._plain(ref, {"$set": {f"reply_waits.{field}": value}})

    def release(self, ref: str, execution_id: str, effect_id: str) -> None:
        """The wait answered, timed out or withdrawn."""
        field = wait_field(execution_id, effect_id)
        new = self._new.get(ref)
        if new is not None and field in new.get("reply_waits", {}):
            del new["reply_waits"][field]
            self._if_existed(ref, {"$unset": {f"reply_waits.{field}": ""}})
            return
        self._plain(ref, {"$unset": {f"reply_waits.{field}": ""}})

    def _if_existed(self, ref: str, update: Document) -> None:
        """``update`` also in what a new conversation's insert becomes if it existed (a
        redelivered trigger's, inserted by its first attempt)."""
        for doc, on_existing in self.new_conversations:
            if doc["_id"] == ref:
                merge_update(on_existing, update)

    def outbound(self, ref: str, at: datetime) -> None:
        """A message to the customer asked for at ``at`` (Send Reply, a re-prompt): the
        conversation's last outbound and last message time (``$max``: a late write never
        moves them back). The executor writes it with the rest of the batch, not the notifier
        after the send: for a new conversation it is part of the insert."""
        times = {"last_outbound_at": at, "last_message_at": at, "updated_at": at}
        new = self._new.get(ref)
        if new is not None:
            for name, value in times.items():
                new[name] = max(new.get(name) or value, value)
            return
        self._plain(ref, {"$max": times})

    def _plain(self, ref: str, update: Document) -> None:
        """``update`` by ``_id`` merged into the conversation's one unconditional update of the
        batch, at the place of the first (the conditional ones keep theirs)."""
        planned = self._by_id.get(ref)
        if planned is None:
            self._by_id[ref] = planned = Update({"_id": ref}, {})
            self.conversations.append(planned)
        merge_update(planned.update, update)

    def run_ended(self, ref: str, workflow_id: str, execution_id: str) -> None:
        """Forget the run, unless a newer one of the workflow has taken its place."""
        run = f"active_runs.{workflow_id}"
        self.conversations.append(Update({"_id": ref, run: execution_id}, {"$unset": {run: ""}}))

    def variables(
        self, tenant_id: str, conversation_id: str | None, writes: Iterable[VariableWrite]
    ) -> None:
        """Every changed variable as its own field: the last write of a variable wins."""
        by_scope: dict[str, tuple[Document, Document]] = {}
        for write in writes:
            if write.scope == "conversation" and conversation_id is None:
                continue  # an execution outside any conversation keeps them to itself
            sets, unsets = by_scope.setdefault(write.scope, ({}, {}))
            name = "variables." + variable_field(write.name)
            if write.text is None:
                unsets[name] = ""
            else:
                sets[name] = write.text
        for scope, (sets, unsets) in by_scope.items():
            update: Document = {}
            if sets:
                update["$set"] = sets
            if unsets:
                update["$unset"] = unsets
            if scope == "global":
                self.tenant_variables.append(Update({"_id": tenant_id}, update, upsert=True))
            else:
                assert conversation_id is not None
                ref = conversation_ref(tenant_id, conversation_id)
                # No upsert: the conversation exists (its trigger's write came first).
                self._plain(ref, update)


def wait_field(execution_id: str, effect_id: str) -> str:
    """A reply wait's field under ``reply_waits`` (effect ids hold node ids: any text)."""
    return variable_field(f"{execution_id}:{effect_id}")


def reply_waits(conversation: Document | None) -> list[Document]:
    """A conversation's reply waits, oldest first, each with its ``_id``
    (``<execution id>:<effect id>``)."""
    waits = [
        {**wait, "_id": f"{wait['execution_id']}:{wait['effect_id']}"}
        for wait in ((conversation or {}).get("reply_waits") or {}).values()
    ]
    return sorted(waits, key=lambda wait: wait["created_at"])


class ConversationsExisted(Exception):
    """Conversations planned as new exist: the batch is planned again, with them read."""

    def __init__(self, refs: set[str]) -> None:
        super().__init__(f"{len(refs)} conversation(s) planned as new exist")
        self.refs = refs


KNOWN_MAX = 200_000  # conversations remembered to exist (then all are forgotten)


class ConversationRepository:
    def __init__(self, db: AsyncDatabase[Document], *, one_by_one: bool = False) -> None:
        """``one_by_one``: on FerretDB, reads by ``_id`` one at a time, all at once
        (servicekit.mongo.find_matching)."""
        self._db = db
        # Conversations this process has seen exist (read, inserted or updated them). Only
        # the trigger intake creates conversations, so a conversation nobody here has seen
        # is most likely new: it is not read first (one find by _id each, the largest cost of
        # a message on FerretDB), and its insert tells if it was not (ConversationsExisted).
        self._known: set[str] = set()
        self._one_by_one = one_by_one
        self._no_contacts_until: dict[str, float] = {}
        self._with_contacts: set[str] = set()

    def known(self, ref: str) -> bool:
        return ref in self._known

    def _remember(self, refs: Iterable[str]) -> None:
        if len(self._known) >= KNOWN_MAX:
            self._known.clear()
        self._known.update(refs)

    async def conversations(self, refs: Iterable[str]) -> dict[str, Document]:
        found = await find_matching(
            self._db.conversations,
            "_id",
            refs,
            one_by_one=self._one_by_one,
            projection={
                "status": 1,
                "variables": 1,
                "contact_id": 1,
                "active_runs": 1,
                "reply_waits": 1,
            },
        )
        self._remember(doc["_id"] for doc in found)
        return {doc["_id"]: doc for doc in found}

    async def tenant_variables(self, tenants: Iterable[str]) -> dict[str, Document]:
        found = await find_matching(
            self._db.tenant_variables, "_id", tenants, one_by_one=self._one_by_one
        )
        return {doc["_id"]: decoded_variables(doc.get("variables")) for doc in found}

    async def has_contacts(self, tenant_id: str) -> bool:
        """Whether the tenant has any contact: kept ``NO_CONTACTS_SECONDS`` when it has none
        (most triggers of a tenant without contacts then look none up), for good once it has
        one (they are not all deleted in practice; a lookup that finds nothing costs one
        read per address)."""
        now = time.monotonic()
        until = self._no_contacts_until.get(tenant_id)
        if until is not None and until > now:
            return False
        if tenant_id in self._with_contacts:
            return True
        found = await self._db.contacts.find_one({"tenant_id": tenant_id}, projection={"_id": 1})
        if found is None:
            self._no_contacts_until[tenant_id] = now + NO_CONTACTS_SECONDS
            return False
        self._with_contacts.add(tenant_id)
        return True

    async def contacts(self, address_refs: Iterable[str]) -> dict[str, Document]:
        """The contact of each address that has one: two reads (the index, then the contacts)."""
        index = {
            d["_id"]: d["contact_id"]
            for d in await find_matching(
                self._db.contact_addresses, "_id", address_refs, one_by_one=self._one_by_one
            )
        }
        if not index:
            return {}
        contacts = {
            d["_id"]: d
            for d in await find_matching(
                self._db.contacts, "_id", index.values(), one_by_one=self._one_by_one
            )
        }
        return {ref: contacts[cid] for ref, cid in index.items() if cid in contacts}

    async def insert_new(self, writes: ConversationWrites) -> set[str]:
        """The batch's new conversations inserted, before anything else of the batch is
        written; the refs of those that existed. ConversationsExisted when any of them was
        planned as new without a read (``assumed_new``): nothing else is written then."""
        if not writes.new_conversations:
            return set()
        docs = [doc for doc, _ in writes.new_conversations]
        existed = await _insert_new(self._db.conversations, docs)
        self._remember(doc["_id"] for doc in docs)
        wrong = existed & writes.assumed_new
        if wrong:
            raise ConversationsExisted(wrong)
        return existed

    async def write(self, writes: ConversationWrites, existed: set[str]) -> None:
        """After ``insert_new``: each collection's updates in order (a later update of a
        document after an earlier one; first those of the new conversations that ``existed``);
        messages, by deterministic id (a redelivered trigger logs nothing twice), and tenant
        variables meanwhile."""
        self._remember(writes.refs())
        results = await asyncio.gather(
            self._conversations_in_order(writes, existed),
            _bulk(self._db.tenant_variables, [u.op() for u in writes.tenant_variables]),
            _bulk(self._db.messages, [InsertOne(m) for m in writes.messages], ordered=False),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _conversations_in_order(self, writes: ConversationWrites, existed: set[str]) -> None:
        updates = [u.op() for u in writes.conversations if u.update]
        if existed:
            # one that existed already (a redelivered trigger): what this trigger changes
            updates[:0] = [
                UpdateOne({"_id": doc["_id"]}, {k: v for k, v in update.items() if v})
                for doc, update in writes.new_conversations
                if doc["_id"] in existed and any(update.values())
            ]
        await _bulk(self._db.conversations, updates)


async def _insert_new(collection: Any, docs: list[Document]) -> set[str]:
    """Insert ``docs``; the ids of those that existed already."""
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        return {docs[e["index"]]["_id"] for e in errors}
    return set()


async def _bulk(collection: Any, ops: list[Any], *, ordered: bool = True) -> None:
    if not ops:
        return
    try:
        await collection.bulk_write(ops, ordered=ordered)
    except BulkWriteError as exc:
        if ordered or any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise
