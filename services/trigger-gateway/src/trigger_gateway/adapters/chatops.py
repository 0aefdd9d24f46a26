"""The tenants' team chat connections, one document per tenant (`_id` = tenant id):

- `slack_connections`: `bot_token` (sealed, purpose `slack.bot_token`), `default_channel`;
- `teams_connections`: `webhooks` (`[{name, url, host}]`, each `url` sealed, purpose
  `teams.webhook_url`), `default_webhook`.

Both with `created_at`, `updated_at`. The notifier reads them by `_id`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from servicekit.sealing import Sealed

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlackConnection:
    bot_token: Sealed
    default_channel: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TeamsWebhook:
    name: str
    url: Sealed
    host: str


@dataclass(frozen=True, slots=True)
class TeamsConnection:
    webhooks: list[TeamsWebhook]
    default_webhook: str | None
    created_at: datetime
    updated_at: datetime


class ChatOpsRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def slack(self, tenant_id: str) -> SlackConnection | None:
        doc = await self._db.slack_connections.find_one({"_id": tenant_id})
        if doc is None:
            return None
        return SlackConnection(
            Sealed.from_document(doc["bot_token"]),
            doc.get("default_channel"),
            doc["created_at"],
            doc["updated_at"],
        )

    async def put_slack(
        self, tenant_id: str, bot_token: Sealed | None, default_channel: str | None
    ) -> SlackConnection:
        """``bot_token`` None keeps the stored one (the caller checked there is one)."""
        now = datetime.now(UTC)
        fields: Document = {"default_channel": default_channel, "updated_at": now}
        if bot_token is not None:
            fields["bot_token"] = bot_token.to_document()
        await self._db.slack_connections.update_one(
            {"_id": tenant_id}, {"$set": fields, "$setOnInsert": {"created_at": now}}, upsert=True
        )
        found = await self.slack(tenant_id)
        assert found is not None
        return found

    async def delete_slack(self, tenant_id: str) -> bool:
        result = await self._db.slack_connections.delete_one({"_id": tenant_id})
        return result.deleted_count == 1

    async def teams(self, tenant_id: str) -> TeamsConnection | None:
        doc = await self._db.teams_connections.find_one({"_id": tenant_id})
        if doc is None:
            return None
        return TeamsConnection(
            [
                TeamsWebhook(w["name"], Sealed.from_document(w["url"]), w["host"])
                for w in doc.get("webhooks") or []
            ],
            doc.get("default_webhook"),
            doc["created_at"],
            doc["updated_at"],
        )

    async def put_teams(
        self, tenant_id: str, webhooks: list[TeamsWebhook], default_webhook: str | None
    ) -> TeamsConnection:
        now = datetime.now(UTC)
        fields: Document = {
            "webhooks": [
                {"name": w.name, "url": w.url.to_document(), "host": w.host} for w in webhooks
            ],
            "default_webhook": default_webhook,
            "updated_at": now,
        }
        await self._db.teams_connections.update_one(
            {"_id": tenant_id}, {"$set": fields, "$setOnInsert": {"created_at": now}}, upsert=True
        )
        found = await self.teams(tenant_id)
        assert found is not None
        return found

    async def delete_teams(self, tenant_id: str) -> bool:
        result = await self._db.teams_connections.delete_one({"_id": tenant_id})
        return result.deleted_count == 1
