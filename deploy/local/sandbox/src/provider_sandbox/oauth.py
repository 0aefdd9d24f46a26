"""The providers' OAuth 2.0 authorization servers (the authorization-code grant, RFC 6749, with
PKCE, RFC 7636, where the provider supports it), each on the provider's own paths:

| provider   | authorize (GET)              | token (POST)                  | PKCE |
|------------|------------------------------|-------------------------------|------|
| Shopify    | /admin/oauth/authorize       | /admin/oauth/access_token     | no   |
| Salesforce | /services/oauth2/authorize   | /services/oauth2/token        | yes  |
| HubSpot    | /oauth/authorize             | /oauth/v1/token               | no   |
| Jira       | /authorize (auth.atlassian)  | /oauth/token                  | no   |
| Zendesk    | /oauth/authorizations/new    | /oauth/tokens                 | yes  |

An app is registered through `/sandbox/oauth/apps` (client id and secret, redirect URI, the
provider account its consent grants, how long access tokens live); its authorize URL consents at
once (a person would log in and press Allow): 302 to the redirect URI with `code` and `state`,
or `error=access_denied` when the app is set to refuse. The code is single-use, lives a minute
and is bound to the redirect URI and the PKCE challenge. Tokens: an access token the provider's
API part accepts (``IssuedTokens``), a refresh token (Jira's rotate on use) and `expires_in`.
`/sandbox/oauth/apps/{client_id}/revoke` revokes the grant: refreshing it then answers
`invalid_grant` in the provider's own error shape, and its access tokens stop working."""

from __future__ import annotations

import secrets
import time
from typing import Generic, TypeVar

A = TypeVar("A")


class IssuedTokens(Generic[A]):
    """Access tokens an OAuth grant issued for a provider's accounts (the API part's auth asks
    ``account``); an expired or revoked one is no token at all."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[A, float | None, str]] = {}

    def issue(self, account: A, lifetime: float | None, grant: str, prefix: str = "") -> str:
        token = prefix + secrets.token_urlsafe(32)
        expires = None if lifetime is None else time.monotonic() + lifetime
        self._tokens[token] = (account, expires, grant)
        return token

    def account(self, token: str) -> A | None:
        held = self._tokens.get(token)
        if held is None:
            return None
        if held[1] is not None and time.monotonic() >= held[1]:
            del self._tokens[token]
            return None
        return held[0]

    def revoke_grant(self, grant: str) -> int:
        gone = [t for t, held in self._tokens.items() if held[2] == grant]
        for token in gone:
            del self._tokens[token]
        return len(gone)

    def clear(self) -> None:
        self._tokens.clear()
