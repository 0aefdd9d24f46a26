"""The tenants' connections (the `connections` collection, written by the gateway) and which one
answers a call (`workflow_connections`: the spec's WorkflowIntegration).

Which connection: the one the node names (id or name), else the one the workflow is assigned
for that type, else the tenant's default of the type (marked default, or the only active one).
The answer is cached for `ttl_seconds` (absence too), credentials opened once per version of
the document, so a busy workflow costs no read per call; a change made through the gateway
applies within that time. Credentials are opened here and nowhere else."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contracts.connections import CONNECTION_TYPES, Limits, config_of, credentials_purpose
from pymongo.asynchronous.database import AsyncDatabase
from servicekit.sealing import Keyring, Sealed, SealingError, Secret

from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection

log = logging.getLogger(__name__)
Document = dict[str, Any]
_CACHE_LIMIT = 10_000


class ConnectionDirectory:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        keyring: Keyring | None,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._ttl = ttl_seconds
        self._clock = clock
        self._chosen: dict[tuple[str, str, str | None, str | None], tuple[float, str | None]] = {}
        self._opened: dict[str, tuple[float, Any, Connection]] = {}  # id -> (at, updated, conn)

    async def resolve(
        self, tenant_id: str, type_name: str, workflow_id: str | None, named: str | None
    ) -> Connection:
        """The connection that answers; NotConnected, ConnectionBroken or Invalid otherwise."""
        key = (tenant_id, type_name, workflow_id, named)
        now = self._clock()
        cached = self._chosen.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            connection_id = cached[1]
        else:
            connection_id = await self._choose(tenant_id, type_name, workflow_id, named)
            if len(self._chosen) > _CACHE_LIMIT:
                self._chosen.clear()
            self._chosen[key] = (now, connection_id)
        if connection_id is None:
            raise _not_connected(type_name, named)
        return await self.get(tenant_id, connection_id, type_name)

    async def get(
        self, tenant_id: str, connection_id: str, type_name: str | None = None
    ) -> Connection:
        """One connection by id, credentials opened (cached for the TTL)."""
        now = self._clock()
        cached = self._opened.get(connection_id)
        if cached is not None and now - cached[0] < self._ttl:
            connection = cached[2]
        else:
            doc = await self._db.connections.find_one(
                {"_id": connection_id, "tenant_id": tenant_id}
            )
            if doc is None:
                self._opened.pop(connection_id, None)
                raise _not_connected(type_name or "integration", connection_id)
            if cached is not None and cached[1] == doc.get("updated_at"):
                connection = cached[2]
            else:
                connection = self._connection(doc)
            if len(self._opened) > _CACHE_LIMIT:
                self._opened.clear()
            self._opened[connection_id] = (now, doc.get("updated_at"), connection)
        if connection.tenant_id != tenant_id:
            raise _not_connected(type_name or connection.type, connection_id)
        if type_name is not None and connection.type != type_name:
            raise IntegrationError(
                "Invalid",
                f"connection {connection.name!r} is a {connection.type} connection, "
                f"not {type_name}",
            )
        return connection

    def forget(self, connection_id: str) -> None:
        """Read it again next time (its credentials were refreshed)."""
        self._opened.pop(connection_id, None)

    async def store_tokens(
        self, connection: Connection, values: dict[str, str], expires_at: float | None
    ) -> None:
        """An OAuth refresh's tokens, sealed for the connection as the gateway seals them."""
        if self._keyring is None:
            raise IntegrationError("Unavailable", "no key-encryption key: tokens cannot be sealed")
        sealed = self._keyring.seal(
            json.dumps(values),
            tenant_id=connection.tenant_id,
            purpose=credentials_purpose(connection.id),
        )
        now = datetime.now(UTC)
        await self._db.connections.update_one(
            {"_id": connection.id, "tenant_id": connection.tenant_id},
            {
                "$set": {
                    "credentials": sealed.to_document(),
                    "credential_fields": sorted(values),
                    "token_expires_at": expires_at,
                    "oauth.refreshed_at": now,
                    "updated_at": now,
                }
            },
        )
        self.forget(connection.id)

    async def mark_broken(self, connection: Connection, reason: str) -> None:
        """Someone must reconnect it (a revoked grant): calls fail with ConnectionBroken."""
        await self._db.connections.update_one(
            {"_id": connection.id, "tenant_id": connection.tenant_id},
            {
                "$set": {
                    "status": "broken",
                    "broken_reason": reason,
                    "updated_at": datetime.now(UTC),
                }
            },
        )
        self.forget(connection.id)

    async def _choose(
        self, tenant_id: str, type_name: str, workflow_id: str | None, named: str | None
    ) -> str | None:
        if named:
            field = "_id" if named.startswith("con_") else "name"
            doc = await self._db.connections.find_one(
                {"tenant_id": tenant_id, field: named}, projection={"_id": 1}
            )
            return None if doc is None else str(doc["_id"])
        if workflow_id:
            assigned = await self._db.workflow_connections.find_one(
                {"_id": f"{tenant_id}:{workflow_id}"}
            )
            chosen = ((assigned or {}).get("connections") or {}).get(type_name)
            if chosen:
                return str(chosen)
        candidates = [
            doc
            async for doc in self._db.connections.find(
                {"tenant_id": tenant_id, "type": type_name, "is_active": True},
                projection={"_id": 1, "is_default": 1},
            )
        ]
        defaults = [d for d in candidates if d.get("is_default")]
        if defaults:
            return str(defaults[0]["_id"])
        if len(candidates) == 1:
            return str(candidates[0]["_id"])
        if candidates:
            raise IntegrationError(
                "NotConnected",
                f"the tenant has {len(candidates)} {type_name} connections and none is the "
                "default: name one in the node, assign one to the workflow, or mark one default",
            )
        return None

    def _connection(self, doc: Document) -> Connection:
        type_name = str(doc["type"])
        mode = str(doc.get("mode") or "provider")
        raw_config = doc.get("config") or {}
        try:
            config = config_of(type_name, raw_config) if mode != "echo" else _Empty()
        except Exception as exc:  # stored by an older gateway: say so, do not crash
            raise IntegrationError(
                "Invalid", f"{type_name} connection {doc.get('name')!r}: config is invalid ({exc})"
            ) from None
        limits = Limits.model_validate(doc["limits"]) if doc.get("limits") else None
        return Connection(
            id=str(doc["_id"]),
            tenant_id=str(doc["tenant_id"]),
            type=type_name,
            name=str(doc.get("name") or doc["_id"]),
            config=config,
            credentials=self._credentials(doc),
            mode=mode,
            limits=limits,
            status=str(doc.get("status") or "connected"),
            broken_reason=doc.get("broken_reason"),
            is_active=bool(doc.get("is_active", True)),
            token_expires_at=doc.get("token_expires_at"),
        )

    def _credentials(self, doc: Document) -> dict[str, Secret]:
        sealed = doc.get("credentials")
        if not sealed:
            return {}
        if self._keyring is None:
            raise IntegrationError(
                "Unavailable",
                "no key-encryption key is configured here: the connection's credentials "
                "cannot be opened",
            )
        try:
            opened = self._keyring.open(
                Sealed.from_document(sealed),
                tenant_id=str(doc["tenant_id"]),
                purpose=credentials_purpose(str(doc["_id"])),
            )
            values = json.loads(opened.reveal())
        except (SealingError, ValueError) as exc:
            log.error("connection %s: credentials do not open (%s)", doc["_id"], type(exc).__name__)
            raise IntegrationError(
                "ConnectionBroken",
                f"the credentials of connection {doc.get('name')!r} cannot be opened "
                "(sealed under a key this service does not have): reconnect it",
            ) from None
        return {k: Secret(str(v)) for k, v in values.items() if v is not None}


class _Empty:
    """An echo connection's config: nothing."""

    base_url = None
    timeout_seconds = 10.0


def _not_connected(type_name: str, named: str | None) -> IntegrationError:
    if named:
        return IntegrationError(
            "NotConnected", f"no {type_name} connection {named!r} for this tenant"
        )
    known = ", ".join(CONNECTION_TYPES)
    if type_name not in CONNECTION_TYPES:
        return IntegrationError(
            "NotConnected", f"{type_name!r} is not an integration; known: {known}"
        )
    return IntegrationError(
        "NotConnected", f"integration {type_name!r} is not connected for this tenant"
    )
