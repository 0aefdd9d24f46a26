"""Conversations, their message log, contacts and the tenant's variables, as the API reads and
changes them (docs/architecture.md, *Conversations*).

The executor upserts conversations from the customers' messages and writes the variables its
executions change; the notifier logs outbound messages; the API changes status, priority, tags,
assignee and variables. Every write is a field-level update by ``_id``, never a
read-modify-write, so the writers never undo each other; a status is written with
contracts.conversations.status_change, so its changes land in ``status_log``. Keys as the
executor makes them: ``<tenant>:<conversation id>`` for conversations, the tenant id for
tenant variables, ``<tenant>:<kind>:<address>`` for the contact index; variables one field
each, the value as JSON text, the name percent-encoded unless made of letters, digits, ``_``
and ``-``."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.conversations import (
    address_ref,
    conversation_ref,
    decoded_variables,
    status_change,
    variable_field,
)
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from trigger_gateway.adapters.clock import stored_now
from trigger_gateway.adapters.keyset import newest_first, older_than

Document = dict[str, Any]
ADDRESS_KINDS = ("phone", "email", "external_id")
_TIMELINE_FIELDS = {"direction": 1, "status": 1, "node_id": 1, "created_at": 1}


def _field(name: str) -> str:
    return "variables." + variable_field(name)


def variable_update(changes: dict[str, Any]) -> Document:
    """A JSON merge patch of variables as one update: null removes a variable (a variable
    without a name is none: ignored)."""
    changes = {k: v for k, v in changes.items() if k}
    sets = {
        _field(k): json.dumps(v, separators=(",", ":")) for k, v in changes.items() if v is not None
    }
    unsets = {_field(k): "" for k, v in changes.items() if v is None}
    update: Document = {}
    if sets:
        update["$set"] = sets
    if unsets:
        update["$unset"] = unsets
    return update


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    for narrowed in ([], [("status", ASCENDING)], [("channel", ASCENDING)], [("tags", ASCENDING)]):
        await db.conversations.create_index(
            [("tenant_id", ASCENDING), *narrowed, *newest_first("last_message_at")]
        )
    await db.conversations.create_index([("tenant_id", ASCENDING), ("contact_id", ASCENDING)])
    await db.messages.create_index(
        [("tenant_id", ASCENDING), ("conversation_id", ASCENDING), *newest_first("created_at")]
    )
    await db.contacts.create_index([("tenant_id", ASCENDING), *newest_first("created_at")])


@dataclass(frozen=True)
class ConversationFilter:
    status: str | None = None
    channel: str | None = None
    tag: str | None = None
    contact_id: str | None = None
    contact_address: str | None = None
    since: datetime | None = None  # last message at or after
    until: datetime | None = None  # last message before


class ConversationRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def get(self, tenant_id: str, conversation_id: str) -> Document | None:
        return await self._db.conversations.find_one(
            {"_id": conversation_ref(tenant_id, conversation_id)}
        )

    async def page(
        self,
        tenant_id: str,
        which: ConversationFilter,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[Document]:
        """Most recent message first; conversations without one yet come last."""
        query: Document = {"tenant_id": tenant_id}
        for name in ("status", "channel", "contact_id", "contact_address"):
            if getattr(which, name) is not None:
                query[name] = getattr(which, name)
        if which.tag is not None:
            query["tags"] = which.tag
        moment: Document = {}
        if which.since is not None:
            moment["$gte"] = which.since
        if which.until is not None:
            moment["$lt"] = which.until
        if moment:
            query["last_message_at"] = moment
        if after is not None:
            query = {"$and": [query, older_than("last_message_at", *after)]}
        cursor = self._db.conversations.find(
            query, projection={"variables": 0}, sort=newest_first("last_message_at")
        ).limit(limit)
        return [doc async for doc in cursor]

    async def update(
        self,
        tenant_id: str,
        conversation_id: str,
        fields: Document,
        variables: Document,
        *,
        add_tags: list[str],
        remove_tags: list[str],
    ) -> Document | None:
        """Set ``fields`` (status, priority, assignee, tags), merge ``variables``, add and
        remove tags (as sets, atomically: two agents tagging at once both count); None if
        unknown. A status is written with contracts.conversations.status_change, so a change
        lands in ``status_log`` (the SLA clocks pause and stop by it)."""
        ref = conversation_ref(tenant_id, conversation_id)
        now = stored_now()
        fields = dict(fields)
        new_status = fields.pop("status", None)
        update = variable_update(variables)
        update["$set"] = {**update.get("$set", {}), **fields, "updated_at": now}
        if add_tags:
            update["$addToSet"] = {"tags": {"$each": add_tags}}
        if new_status is None:
            doc = await self._db.conversations.find_one_and_update(
                {"_id": ref}, update, return_document=ReturnDocument.AFTER
            )
        else:
            doc = await self._with_status(ref, new_status, update, now)
        if doc is not None and remove_tags:
            doc = await self._db.conversations.find_one_and_update(
                {"_id": ref},
                {"$pullAll": {"tags": remove_tags}},
                return_document=ReturnDocument.AFTER,
            )
        return doc

    async def _with_status(
        self, ref: str, status: str, update: Document, now: datetime
    ) -> Document | None:
        """``update`` with the status: logged when it changes it, not when it is the same
        (either filter matches, unless the status changed in between: then again)."""
        change = status_change(status, now)
        logged = {**update, "$set": {**update["$set"], **change["$set"]}, "$push": change["$push"]}
        for _ in range(3):
            for query, write in (({"$ne": status}, logged), (status, update)):
                doc = await self._db.conversations.find_one_and_update(
                    {"_id": ref, "status": query}, write, return_document=ReturnDocument.AFTER
                )
                if doc is not None:
                    return doc
            if await self._db.conversations.find_one({"_id": ref}, projection={"_id": 1}) is None:
                return None
        return await self._db.conversations.find_one_and_update(
            {"_id": ref}, logged, return_document=ReturnDocument.AFTER
        )

    async def messages(
        self,
        tenant_id: str,
        conversation_id: str,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[Document]:
        """Newest first."""
        query: Document = {"tenant_id": tenant_id, "conversation_id": conversation_id}
        if after is not None:
            query = {"$and": [query, older_than("created_at", *after)]}
        cursor = self._db.messages.find(query, sort=newest_first("created_at")).limit(limit)
        return [doc async for doc in cursor]

    async def timeline_messages(
        self, tenant_id: str, conversation_id: str, *, limit: int
    ) -> list[Document]:
        """The newest ``limit`` messages, newest first, with what SLA clocks read of them."""
        cursor = self._db.messages.find(
            {"tenant_id": tenant_id, "conversation_id": conversation_id},
            projection=_TIMELINE_FIELDS,
            sort=newest_first("created_at"),
        ).limit(limit)
        return [doc async for doc in cursor]

    async def tenant_variables(self, tenant_id: str) -> Document:
        doc = await self._db.tenant_variables.find_one({"_id": tenant_id})
        return decoded_variables((doc or {}).get("variables"))

    async def update_tenant_variables(self, tenant_id: str, changes: Document) -> Document:
        update = variable_update(changes)
        if update:
            await self._db.tenant_variables.update_one({"_id": tenant_id}, update, upsert=True)
        return await self.tenant_variables(tenant_id)


class AddressTaken(Exception):
    """Another contact of the tenant has this phone, email or external id."""

    def __init__(self, kind: str, address: str) -> None:
        super().__init__(f"another contact has {kind} {address}")
        self.kind = kind
        self.address = address


class ContactRepository:
    """Contacts and their address index (``contact_addresses``: one document per phone, email
    and external id, ``_id`` = tenant, kind and address, so an address names one contact)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def create(self, tenant_id: str, fields: Document) -> Document:
        now = datetime.now(UTC)
        doc = {
            "_id": "ct_" + secrets.token_hex(12),
            "tenant_id": tenant_id,
            **fields,
            "created_at": now,
            "updated_at": now,
        }
        await self._claim(tenant_id, doc["_id"], _addresses(fields))
        await self._db.contacts.insert_one(doc)
        return doc

    async def get(self, tenant_id: str, contact_id: str) -> Document | None:
        doc = await self._db.contacts.find_one({"_id": contact_id})
        return doc if doc is not None and doc.get("tenant_id") == tenant_id else None

    async def find_by(self, tenant_id: str, kind: str, address: str) -> Document | None:
        index = await self._db.contact_addresses.find_one(
            {"_id": address_ref(tenant_id, kind, address)}
        )
        return None if index is None else await self.get(tenant_id, index["contact_id"])

    async def page(
        self, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Document]:
        query: Document = {"tenant_id": tenant_id}
        if after is not None:
            query = {"$and": [query, older_than("created_at", *after)]}
        cursor = self._db.contacts.find(query, sort=newest_first("created_at")).limit(limit)
        return [doc async for doc in cursor]

    async def update(self, tenant_id: str, contact_id: str, changes: Document) -> Document | None:
        """Merge ``changes`` (a None value removes the field); addresses move with them: the
        new ones are claimed first (409 if taken), the old ones released after."""
        current = await self.get(tenant_id, contact_id)
        if current is None:
            return None
        merged = {**current, **changes}
        before, after = (
            _addresses(current),
            _addresses({k: v for k, v in merged.items() if v is not None}),
        )
        await self._claim(tenant_id, contact_id, [a for a in after if a not in before])
        sets = {k: v for k, v in changes.items() if v is not None}
        unsets = {k: "" for k, v in changes.items() if v is None}
        update: Document = {"$set": {**sets, "updated_at": datetime.now(UTC)}}
        if unsets:
            update["$unset"] = unsets
        doc = await self._db.contacts.find_one_and_update(
            {"_id": contact_id}, update, return_document=ReturnDocument.AFTER
        )
        await self._release(tenant_id, [a for a in before if a not in after])
        return doc

    async def delete(self, tenant_id: str, contact_id: str) -> bool:
        current = await self.get(tenant_id, contact_id)
        if current is None:
            return False
        await self._db.contacts.delete_one({"_id": contact_id})
        await self._release(tenant_id, _addresses(current))
        return True

    async def _claim(
        self, tenant_id: str, contact_id: str, addresses: list[tuple[str, str]]
    ) -> None:
        claimed: list[tuple[str, str]] = []
        for kind, address in addresses:
            ref = address_ref(tenant_id, kind, address)
            try:
                await self._db.contact_addresses.insert_one(
                    {"_id": ref, "tenant_id": tenant_id, "contact_id": contact_id}
                )
            except DuplicateKeyError:
                holder = await self._db.contact_addresses.find_one({"_id": ref})
                if holder is not None and holder.get("contact_id") == contact_id:
                    continue  # ours already (a retried request)
                await self._release(tenant_id, claimed)
                raise AddressTaken(kind, address) from None
            claimed.append((kind, address))

    async def _release(self, tenant_id: str, addresses: list[tuple[str, str]]) -> None:
        for kind, address in addresses:
            await self._db.contact_addresses.delete_one(
                {"_id": address_ref(tenant_id, kind, address)}
            )


def _addresses(fields: Document) -> list[tuple[str, str]]:
    return [(kind, str(fields[kind])) for kind in ADDRESS_KINDS if fields.get(kind)]
