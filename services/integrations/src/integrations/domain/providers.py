"""What a provider client is: the one interface every system of record is called through.

The service resolves the connection (its config, its credentials opened), takes a token from
the connection's rate limit, and hands the call to the type's ``ProviderClient``; the client
speaks the provider's API and turns every refusal into a typed ``IntegrationError``
(integrations.domain.operations). Retries of transient errors (Unavailable, Timeout,
RateLimited: within the call's deadline, Retry-After honoured) are the service's, around the
client, so a client makes one attempt per ``call``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts.connections import Limits
from pydantic import BaseModel
from servicekit.sealing import Secret

Document = dict[str, Any]


@dataclass(frozen=True)
class Connection:
    """A tenant's connection, ready to call with: ``config`` validated by the type's model,
    ``credentials`` opened (each a Secret: ``.reveal()`` only where a request is built)."""

    id: str
    tenant_id: str
    type: str
    name: str
    config: BaseModel | Any
    credentials: Mapping[str, Secret] = field(default_factory=dict)
    mode: str = "provider"  # or "echo", "http" (contracts.connections)
    limits: Limits | None = None  # the connection's own; None: the client's defaults
    status: str = "connected"  # "broken": someone must reconnect it (broken_reason says why)
    broken_reason: str | None = None
    is_active: bool = True
    token_expires_at: float | None = None  # an OAuth access token's expiry (epoch seconds)

    def token_expiring(self, leeway: float = 60.0) -> bool:
        """An OAuth access token that expires within ``leeway`` seconds and can be refreshed."""
        return (
            self.token_expires_at is not None
            and "refresh_token" in self.credentials
            and self.token_expires_at - time.time() < leeway
        )

    def secret(self, name: str) -> str:
        """The credential ``name`` in the clear (for the request being built, nothing else);
        Unauthorized when the connection has none."""
        from integrations.domain.operations import IntegrationError

        value = self.credentials.get(name)
        if value is None:
            raise IntegrationError(
                "Unauthorized", f"{self.type} connection {self.name!r} has no {name}"
            )
        return value.reveal()

    @property
    def timeout_seconds(self) -> float:
        """How long one request may take (the config's ``timeout_seconds``, else 10 s)."""
        return float(getattr(self.config, "timeout_seconds", 10.0) or 10.0)

    def base(self, default: str) -> str:
        """The API root: the connection's ``base_url`` when it has one (sandbox, proxy), else
        the provider's ``default`` (e.g. ``https://api.stripe.com``)."""
        override = getattr(self.config, "base_url", None)
        return str(override or default).rstrip("/")


@dataclass(frozen=True)
class CallContext:
    """One call: its idempotency key (the provider's Idempotency-Key where it has one) and the
    instant, on ``time.monotonic()``, by which it must be answered."""

    idempotency_key: str
    deadline: float

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def seconds_for(self, connection: Connection) -> float:
        """How long the next request may take: the connection's timeout, cut to what is left
        of the call's deadline (never zero: a zero timeout means "none" to some clients)."""
        return max(0.001, min(connection.timeout_seconds, self.remaining()))

    @classmethod
    def within(cls, idempotency_key: str, seconds: float) -> CallContext:
        return cls(idempotency_key, time.monotonic() + seconds)


class ProviderClient(Protocol):
    """One provider. ``actions``: the node catalogue's actions, each with the parameters it
    requires (checked before ``call``: a missing one is Invalid without a request)."""

    type: str
    actions: Mapping[str, tuple[str, ...]]
    default_limits: Limits

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        """The provider's answer as a JSON-safe object; IntegrationError for a refusal."""
        ...

    async def check(self, connection: Connection, context: CallContext) -> Document:
        """A cheap read that proves the connection works ("check connection"): e.g. the
        account, the shop, the current user. IntegrationError when it does not."""
        ...

    async def aclose(self) -> None: ...
