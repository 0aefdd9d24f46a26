"""The tenants' SendGrid channels (`sendgrid_channels`, `_id` = tenant id): the API key sealed
(servicekit.sealing, purpose `sendgrid.api_key`: the notifier opens it to send), the sender,
the Event Webhook's public key, the inbound address, and the Inbound Parse URL's secret (its
SHA-256 to check a post, and sealed, purpose `sendgrid.inbound_token`, to answer the URL).

Also what an inbound email needs of the message log: the conversations of our outbound
messages it answers (`messages` by `_id`, of the tenant)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from servicekit.sealing import Sealed

Document = dict[str, Any]
MAX_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class SendGridChannel:
    tenant_id: str
    api_key: Sealed
    from_email: str
    from_name: str | None
    event_webhook_public_key: str | None
    inbound_address: str | None
    inbound_token_digest: str
    inbound_token: Sealed
    created_at: datetime
    updated_at: datetime


def _channel(doc: Document) -> SendGridChannel:
    return SendGridChannel(
        tenant_id=doc["_id"],
        api_key=Sealed.from_document(doc["api_key"]),
        from_email=doc["from_email"],
        from_name=doc.get("from_name"),
        event_webhook_public_key=doc.get("event_webhook_public_key"),
        inbound_address=doc.get("inbound_address"),
        inbound_token_digest=doc["inbound_token_digest"],
        inbound_token=Sealed.from_document(doc["inbound_token"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


class SendGridChannelRepository:
    def __init__(self, db: AsyncDatabase[Document], *, cache_seconds: float = 10.0) -> None:
        """``cache_seconds``: how long a webhook's lookup of a channel is kept (a signature
        that does not verify with it is checked again with what is stored)."""
        self._db = db
        self._cache_seconds = cache_seconds
        self._kept: dict[str, tuple[SendGridChannel, float]] = {}

    async def get(self, tenant_id: str) -> SendGridChannel | None:
        doc = await self._db.sendgrid_channels.find_one({"_id": tenant_id})
        return _channel(doc) if doc is not None else None

    async def for_webhook(
        self, tenant_id: str, *, fresh: bool = False
    ) -> tuple[SendGridChannel | None, bool]:
        """The tenant's channel for a webhook, and whether it was kept from before."""
        now = time.monotonic()
        kept = self._kept.get(tenant_id)
        if kept is not None and kept[1] > now and not fresh:
            return kept[0], True
        channel = await self.get(tenant_id)
        if channel is not None:
            if len(self._kept) >= MAX_KEPT:
                self._kept.clear()
            self._kept[tenant_id] = (channel, now + self._cache_seconds)
        return channel, False

    async def put(
        self,
        tenant_id: str,
        fields: Document,
        *,
        api_key: Sealed | None,
        inbound_token: tuple[str, Sealed] | None,
    ) -> SendGridChannel:
        """Connect or change the channel; ``api_key``/``inbound_token`` None keep the
        stored ones (the caller checked there are)."""
        self._kept.pop(tenant_id, None)
        now = datetime.now(UTC)
        values: Document = {**fields, "updated_at": now}
        if api_key is not None:
            values["api_key"] = api_key.to_document()
        if inbound_token is not None:
            values["inbound_token_digest"] = inbound_token[0]
            values["inbound_token"] = inbound_token[1].to_document()
        await self._db.sendgrid_channels.update_one(
            {"_id": tenant_id}, {"$set": values, "$setOnInsert": {"created_at": now}}, upsert=True
        )
        channel = await self.get(tenant_id)
        assert channel is not None
        return channel

    async def delete(self, tenant_id: str) -> bool:
        self._kept.pop(tenant_id, None)
        result = await self._db.sendgrid_channels.delete_one({"_id": tenant_id})
        return result.deleted_count == 1

    async def conversation_answered(self, tenant_id: str, message_ids: list[str]) -> str | None:
        """The conversation of the first of our outbound messages (nearest first) that is the
        tenant's and has one: one read by `_id` each, until found."""
        for message_id in message_ids[:10]:
            doc = await self._db.messages.find_one(
                {"_id": message_id}, projection={"tenant_id": 1, "conversation_id": 1}
            )
            if doc and doc.get("tenant_id") == tenant_id and doc.get("conversation_id"):
                return str(doc["conversation_id"])
        return None
