"""The tenants' chat widgets (`widgets`, ``_id`` = the public widget key): name, allowed
origins, whether visitors must be identity-verified, and the signing secret, sealed
(servicekit.sealing, purpose ``widget.secret``); and the conversation's outbound messages, as
the reply stream replays them.

The public routes look a widget up on every request: ``WidgetDirectory`` keeps each one (with
its secret opened) for a few seconds, so a visitor's messages cost no read and no decryption;
a change made through this process is seen at once, through another within that time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from servicekit.sealing import Keyring, KeyringError, Sealed, Secret

from trigger_gateway.adapters.keyset import newest_first

Document = dict[str, Any]
WIDGET_SECRET = "widget.secret"
"""The purpose a widget's secret is sealed for."""
CACHE_SECONDS = 5.0
REPLAY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Widget:
    widget_key: str
    tenant_id: str
    name: str
    allowed_origins: list[str]
    require_identity: bool
    secret: Sealed
    created_at: datetime
    updated_at: datetime


def widget_of(doc: Document) -> Widget:
    return Widget(
        widget_key=doc["_id"],
        tenant_id=doc["tenant_id"],
        name=doc["name"],
        allowed_origins=list(doc.get("allowed_origins") or []),
        require_identity=bool(doc.get("require_identity")),
        secret=Sealed.from_document(doc["secret"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


async def ensure_widget_indexes(db: AsyncDatabase[Document]) -> None:
    await db.widgets.create_index([("tenant_id", ASCENDING), ("created_at", ASCENDING)])


class WidgetRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def create(
        self,
        tenant_id: str,
        widget_key: str,
        *,
        name: str,
        allowed_origins: list[str],
        require_identity: bool,
        secret: Sealed,
    ) -> Widget:
        now = datetime.now(UTC)
        doc = {
            "_id": widget_key,
            "tenant_id": tenant_id,
            "name": name,
            "allowed_origins": allowed_origins,
            "require_identity": require_identity,
            "secret": secret.to_document(),
            "created_at": now,
            "updated_at": now,
        }
        await self._db.widgets.insert_one(doc)
        return widget_of(doc)

    async def get(self, widget_key: str) -> Widget | None:
        doc = await self._db.widgets.find_one({"_id": widget_key})
        return None if doc is None else widget_of(doc)

    async def of_tenant(self, tenant_id: str) -> list[Widget]:
        cursor = self._db.widgets.find({"tenant_id": tenant_id}, sort=[("created_at", ASCENDING)])
        return [widget_of(doc) async for doc in cursor]

    async def update(self, tenant_id: str, widget_key: str, fields: Document) -> Widget | None:
        """Set ``fields`` (name, allowed_origins, require_identity, secret as a document)."""
        doc = await self._db.widgets.find_one_and_update(
            {"_id": widget_key, "tenant_id": tenant_id},
            {"$set": {**fields, "updated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else widget_of(doc)

    async def delete(self, tenant_id: str, widget_key: str) -> bool:
        result = await self._db.widgets.delete_one({"_id": widget_key, "tenant_id": tenant_id})
        return result.deleted_count == 1


@dataclass(frozen=True, slots=True)
class OpenWidget:
    """A widget with its secret opened (the public routes sign and check with it)."""

    widget: Widget
    secret: Secret


class WidgetDirectory:
    """Widgets by key for the public routes, each kept ``CACHE_SECONDS`` (unknown keys are
    always looked up)."""

    def __init__(self, widgets: WidgetRepository, keyring: Keyring | None) -> None:
        self.widgets = widgets
        self.keyring = keyring
        self._known: dict[str, tuple[OpenWidget, float]] = {}

    async def find(self, widget_key: str) -> OpenWidget | None:
        """None for an unknown key. servicekit.sealing.SealingError when the secret does not
        open (no KEK, or a KEK no longer configured)."""
        now = time.monotonic()
        cached = self._known.get(widget_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        widget = await self.widgets.get(widget_key)
        if widget is None:
            self._known.pop(widget_key, None)
            return None
        if self.keyring is None:
            raise KeyringError("no KEK configured: the widget's secret cannot be opened")
        secret = self.keyring.open(widget.secret, tenant_id=widget.tenant_id, purpose=WIDGET_SECRET)
        opened = OpenWidget(widget, secret)
        if len(self._known) >= 10_000:
            self._known.clear()
        self._known[widget_key] = (opened, now + CACHE_SECONDS)
        return opened

    def forget(self, widget_key: str) -> None:
        """A change made here: the next request reads it again."""
        self._known.pop(widget_key, None)


class ReplyLog:
    """The outbound messages of a conversation (the notifier logs them in `messages`), for a
    reply stream to replay: oldest first."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def after(
        self, tenant_id: str, conversation_id: str, last_id: str | None
    ) -> list[Document]:
        """Up to ``REPLAY_LIMIT`` outbound messages after ``last_id``; without one, the latest
        ``REPLAY_LIMIT``; none when ``last_id`` is not one of this conversation's messages
        (it cannot be placed: the stream goes on live)."""
        query: Document = {
            "tenant_id": tenant_id,
            "conversation_id": conversation_id,
            "direction": "outbound",
        }
        if last_id is None:
            cursor = self._db.messages.find(query, sort=newest_first("created_at"))
            return list(reversed([doc async for doc in cursor.limit(REPLAY_LIMIT)]))
        last = await self._db.messages.find_one({"_id": last_id})
        if last is None or (last.get("tenant_id"), last.get("conversation_id")) != (
            tenant_id,
            conversation_id,
        ):
            return []
        at = last["created_at"]
        later = {"$or": [{"created_at": {"$gt": at}}, {"created_at": at, "_id": {"$gt": last_id}}]}
        cursor = self._db.messages.find(
            {"$and": [query, later]}, sort=[("created_at", ASCENDING), ("_id", ASCENDING)]
        )
        return [doc async for doc in cursor.limit(REPLAY_LIMIT)]
