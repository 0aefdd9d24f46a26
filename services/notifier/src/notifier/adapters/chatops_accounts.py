"""The tenants' Slack and Teams connections, as the gateway stores them:

- `slack_connections` (`_id` = tenant id): `bot_token` sealed (servicekit.sealing, purpose
  ``slack.bot_token``), `default_channel` (or null);
- `teams_connections` (`_id` = tenant id): `webhooks` (`[{name, url, host}]`, each `url`
  sealed for purpose ``teams.webhook_url``: an incoming webhook's URL is its credential),
  `default_webhook` (a name, or null).

Read for the tenants of a batch and kept a few seconds. Secrets are opened here and held as
``Secret``s, never logged; what names them in logs and cache keys is their fingerprint."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from servicekit.mongo import find_matching
from servicekit.sealing import Keyring, Sealed, SealingError, Secret

from notifier.domain.errors import CREDENTIALS_UNAVAILABLE, DeliveryError, failure

log = logging.getLogger(__name__)
Document = dict[str, Any]
SLACK_BOT_TOKEN = "slack.bot_token"
TEAMS_WEBHOOK_URL = "teams.webhook_url"
"""The purposes the gateway seals them for (trigger_gateway.domain.chatops)."""


@dataclass(frozen=True, slots=True)
class SlackConnection:
    tenant_id: str
    bot_token: Secret
    token_fingerprint: str
    default_channel: str | None


@dataclass(frozen=True, slots=True)
class TeamsWebhook:
    name: str
    url: Secret
    host: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class TeamsConnection:
    tenant_id: str
    webhooks: tuple[TeamsWebhook, ...]
    default_webhook: str | None

    def webhook(self, name: str | None) -> TeamsWebhook | None:
        """The webhook of that name; None: the default (or the only one)."""
        wanted = name or self.default_webhook
        if wanted is None and len(self.webhooks) == 1:
            return self.webhooks[0]
        return next((w for w in self.webhooks if w.name == wanted), None)


Found = Any  # a connection, a DeliveryError (its secret does not open) or None (none)


class ChatOpsConnections:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        keyring: Keyring | None,
        *,
        ttl_seconds: float = 5,
        one_by_one: bool = False,
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._ttl = ttl_seconds
        self._one_by_one = one_by_one
        self._cache: dict[tuple[str, str], tuple[float, Found]] = {}

    async def slack(
        self, tenants: Iterable[str]
    ) -> dict[str, SlackConnection | DeliveryError | None]:
        return await self._read("slack_connections", tenants, self._slack)

    async def teams(
        self, tenants: Iterable[str]
    ) -> dict[str, TeamsConnection | DeliveryError | None]:
        return await self._read("teams_connections", tenants, self._teams)

    async def _read(self, collection: str, tenants: Iterable[str], opened: Any) -> dict[str, Any]:
        now = time.monotonic()
        wanted = set(tenants)
        found = {
            t: hit[1] for t in wanted if (hit := self._cache.get((collection, t))) and hit[0] > now
        }
        missing = sorted(wanted - set(found))
        if missing:
            read = await find_matching(
                self._db[collection], "_id", missing, one_by_one=self._one_by_one
            )
            docs = {doc["_id"]: doc for doc in read}
            for tenant in missing:
                doc = docs.get(tenant)
                connection = opened(doc) if doc is not None else None
                self._cache[(collection, tenant)] = (now + self._ttl, connection)
                found[tenant] = connection
        return found

    def _open(self, sealed_doc: Any, tenant: str, purpose: str) -> tuple[Secret, str] | None:
        if self._keyring is None:
            return None
        try:
            sealed = Sealed.from_document(sealed_doc)
            return self._keyring.open(sealed, tenant_id=tenant, purpose=purpose), sealed.fingerprint
        except (SealingError, KeyError, TypeError) as exc:
            log.error("a sealed %s of tenant %s does not open: %s", purpose, tenant, exc)
            return None

    def _slack(self, doc: Document) -> SlackConnection | DeliveryError:
        tenant = str(doc["_id"])
        opened = self._open(doc.get("bot_token"), tenant, SLACK_BOT_TOKEN)
        if opened is None:
            return failure(CREDENTIALS_UNAVAILABLE, "the tenant's Slack bot token cannot be opened")
        token, fingerprint = opened
        return SlackConnection(tenant, token, fingerprint, doc.get("default_channel"))

    def _teams(self, doc: Document) -> TeamsConnection | DeliveryError:
        tenant = str(doc["_id"])
        webhooks = []
        for hook in doc.get("webhooks") or []:
            opened = self._open(hook.get("url"), tenant, TEAMS_WEBHOOK_URL)
            if opened is None:
                return failure(
                    CREDENTIALS_UNAVAILABLE, "the tenant's Teams webhook URLs cannot be opened"
                )
            url, fingerprint = opened
            webhooks.append(
                TeamsWebhook(str(hook["name"]), url, str(hook.get("host")), fingerprint)
            )
        return TeamsConnection(tenant, tuple(webhooks), doc.get("default_webhook"))
