"""OAuth access tokens renewed (servicekit.oauth's refresh-token grant): before they expire and
once after a 401. The service's ``Refresh``.

One refresh per connection at a time in this process; another replica may refresh the same
connection meanwhile, so the stored tokens are read again first and a refresh made by someone
else is used, not repeated (a provider that rotates refresh tokens, as Atlassian does, refuses
the old one). A refusal of the refresh token (`invalid_grant`: the grant was revoked or
expired) marks the connection broken with the provider's reason: calls then fail
ConnectionBroken until someone reconnects it."""

from __future__ import annotations

import asyncio
import logging

import httpx
from servicekit.oauth import PROVIDERS, OAuthApp, OAuthRefused, OAuthUnavailable, renew

from integrations.adapters.connections import ConnectionDirectory
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection

log = logging.getLogger(__name__)


class TokenRefresher:
    def __init__(
        self,
        directory: ConnectionDirectory,
        apps: dict[str, OAuthApp],
        http: httpx.AsyncClient,
        leeway_seconds: float = 60.0,
    ) -> None:
        self._leeway = leeway_seconds
        self._directory = directory
        self._apps = apps
        self._http = http
        self._locks: dict[str, asyncio.Lock] = {}

    async def __call__(self, connection: Connection) -> Connection | None:
        """The connection with a fresh access token; None when it has no way to refresh (no
        refresh token, or no OAuth app here): then its 401 stands."""
        app = self._apps.get(connection.type)
        if app is None or connection.type not in PROVIDERS:
            return None
        if "refresh_token" not in connection.credentials:
            return None
        # one lock per OAuth connection this process has refreshed: few, and kept
        async with self._locks.setdefault(connection.id, asyncio.Lock()):
            return await self._refreshed(connection, app)

    async def _refreshed(self, connection: Connection, app: OAuthApp) -> Connection:
        self._directory.forget(connection.id)
        current = await self._directory.get(connection.tenant_id, connection.id)
        used = current.credentials.get("access_token")
        if used != connection.credentials.get("access_token") and not current.token_expiring(
            self._leeway
        ):
            return current  # refreshed meanwhile (here, or by another replica)
        refresh_token = current.secret("refresh_token")
        try:
            grant = await renew(
                self._http,
                PROVIDERS[current.type],
                current.config,
                app,
                refresh_token,
                timeout=current.timeout_seconds,
            )
        except OAuthUnavailable as exc:
            raise IntegrationError("Unavailable", f"refreshing the token: {exc}") from None
        except OAuthRefused as refused:
            self._directory.forget(current.id)
            again = await self._directory.get(current.tenant_id, current.id)
            if again.credentials.get("refresh_token") != current.credentials.get("refresh_token"):
                return again  # another replica refreshed with the token we held
            if not refused.grant_revoked:
                raise IntegrationError(
                    "Unauthorized", f"{current.type} refused to refresh the token ({refused})"
                ) from None
            reason = f"{current.type} refused the refresh token ({refused}): reconnect it"
            await self._directory.mark_broken(current, reason)
            log.warning("connection %s broken: its OAuth grant was refused", current.id)
            raise IntegrationError(
                "ConnectionBroken", f"connection {current.name!r} is broken: {reason}"
            ) from None
        await self._directory.store_tokens(
            current, grant.credentials(refresh_token), grant.expires_at
        )
        log.info("connection %s: OAuth access token refreshed", current.id)
        return await self._directory.get(current.tenant_id, current.id)
