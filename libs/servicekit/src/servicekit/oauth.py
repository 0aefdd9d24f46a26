"""OAuth 2.0 for the connection types that use it: the authorization-code grant (RFC 6749 4.1)
with PKCE (RFC 7636, S256) where the provider supports it, and the refresh-token grant.

The gateway starts the grant (``authorization_url``) and redeems the code at its callback
(``redeem``); the integrations service renews an expiring or refused access token (``renew``).
The protocol pieces (the authorization URI, token request bodies, the S256 challenge, random
state and verifiers) are authlib's; the requests go through the caller's httpx client, so they
share its timeouts and spans. Our OAuth app with each provider (client id and secret) comes
from the environment: ``OAUTH_<TYPE>_CLIENT_ID`` and ``OAUTH_<TYPE>_CLIENT_SECRET``.

Each provider's endpoints are its public ones; a connection's ``base_url`` (the provider
sandbox, a proxy) replaces their scheme and host, as it does for the provider's API."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from servicekit.sealing import Secret

MAX_MESSAGE = 300


@dataclass(frozen=True)
class OAuthProvider:
    """A provider's authorization server. ``authorize`` and ``token`` may name config fields
    (``{shop}``, ``{subdomain}``); ``json_body``: the token endpoint takes JSON, not a form."""

    type: str
    authorize: str
    token: str
    scope: str
    pkce: bool = False
    json_body: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)


PROVIDERS: dict[str, OAuthProvider] = {
    p.type: p
    for p in (
        # https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
        OAuthProvider(
            "shopify",
            "https://{shop}/admin/oauth/authorize",
            "https://{shop}/admin/oauth/access_token",
            "read_orders,write_orders,read_customers,read_products,read_inventory,write_inventory",
        ),
        # https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm
        OAuthProvider(
            "salesforce",
            "https://login.salesforce.com/services/oauth2/authorize",
            "https://login.salesforce.com/services/oauth2/token",
            "api refresh_token",
            pkce=True,
        ),
        # https://developers.hubspot.com/docs/api/oauth-quickstart-guide
        OAuthProvider(
            "hubspot",
            "https://app.hubspot.com/oauth/authorize",
            "https://api.hubapi.com/oauth/v1/token",
            "oauth crm.objects.contacts.read crm.objects.contacts.write "
            "crm.objects.deals.write tickets",
        ),
        # https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/
        OAuthProvider(
            "jira",
            "https://auth.atlassian.com/authorize",
            "https://auth.atlassian.com/oauth/token",
            "read:jira-work write:jira-work offline_access",
            json_body=True,
            extra={"audience": "api.atlassian.com", "prompt": "consent"},
        ),
        # https://developer.zendesk.com/api-reference/ticketing/oauth/oauth_tokens/
        OAuthProvider(
            "zendesk",
            "https://{subdomain}.zendesk.com/oauth/authorizations/new",
            "https://{subdomain}.zendesk.com/oauth/tokens",
            "read write",
            pkce=True,
        ),
    )
}


@dataclass(frozen=True)
class OAuthApp:
    """Our app registered with a provider."""

    client_id: str
    client_secret: Secret


def oauth_apps(environ: Mapping[str, str]) -> dict[str, OAuthApp]:
    """Type -> our app there, for each type whose client id and secret are both set."""
    apps = {}
    for type_name in PROVIDERS:
        prefix = f"OAUTH_{type_name.upper()}_"
        client_id, secret = environ.get(prefix + "CLIENT_ID"), environ.get(prefix + "CLIENT_SECRET")
        if client_id and secret:
            apps[type_name] = OAuthApp(client_id, Secret(secret))
    return apps


@dataclass(frozen=True)
class Grant:
    """What a token endpoint answered: the tokens (secrets: seal them), when the access token
    expires (epoch seconds; None: the provider did not say), and the rest of its answer that is
    not secret (scope, Salesforce's instance_url, ...)."""

    access_token: Secret
    refresh_token: Secret | None
    expires_at: float | None
    details: dict[str, Any]

    def credentials(self, previous_refresh: str | None = None) -> dict[str, str]:
        """The connection's new credentials; a refresh answered without a refresh token keeps
        the one it was made with (RFC 6749 6)."""
        refresh = self.refresh_token.reveal() if self.refresh_token else previous_refresh
        values = {"access_token": self.access_token.reveal()}
        if refresh:
            values["refresh_token"] = refresh
        return values


class OAuthRefused(Exception):
    """The authorization server said no (``error``: invalid_grant for a revoked or expired
    grant, invalid_client, ...). The message is the provider's, never a token."""

    def __init__(self, error: str, description: str, status: int) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.status = status

    @property
    def grant_revoked(self) -> bool:
        return self.error in ("invalid_grant", "BAD_REFRESH_TOKEN", "unauthorized_client")


class OAuthUnavailable(Exception):
    """The authorization server could not be reached, or answered 5xx or not JSON."""


def endpoint(template: str, config: Any) -> str:
    """``template`` with the config's fields, on the connection's ``base_url`` when it has one."""
    fields = {name: str(getattr(config, name, "") or "") for name in ("shop", "subdomain", "site")}
    url = template.format(**fields)
    override = getattr(config, "base_url", None)
    if not override:
        return url
    base, parts = urlsplit(str(override).rstrip("/")), urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))


def new_state() -> str:
    return str(generate_token(40))


def new_verifier(provider: OAuthProvider) -> str | None:
    """A PKCE code verifier (RFC 7636 4.1: 43 to 128 characters), for a provider that takes one."""
    return str(generate_token(64)) if provider.pkce else None


def authorization_url(
    provider: OAuthProvider,
    config: Any,
    app: OAuthApp,
    redirect_uri: str,
    state: str,
    verifier: str | None,
) -> str:
    """Where to send the person who grants access."""
    extra = dict(provider.extra)
    if verifier is not None:
        extra |= {"code_challenge": create_s256_code_challenge(verifier),
                  "code_challenge_method": "S256"}  # fmt: skip
    return str(
        prepare_grant_uri(
            endpoint(provider.authorize, config),
            client_id=app.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=provider.scope,
            state=state,
            **extra,
        )
    )


async def redeem(
    http: httpx.AsyncClient,
    provider: OAuthProvider,
    config: Any,
    app: OAuthApp,
    code: str,
    redirect_uri: str,
    verifier: str | None,
    timeout: float = 10.0,
) -> Grant:
    """The authorization code for tokens (RFC 6749 4.1.3)."""
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        body["code_verifier"] = verifier
    return await _token_request(http, provider, config, app, body, timeout)


async def renew(
    http: httpx.AsyncClient,
    provider: OAuthProvider,
    config: Any,
    app: OAuthApp,
    refresh_token: str,
    timeout: float = 10.0,
) -> Grant:
    """A new access token for the refresh token (RFC 6749 6)."""
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await _token_request(http, provider, config, app, body, timeout)


async def _token_request(
    http: httpx.AsyncClient,
    provider: OAuthProvider,
    config: Any,
    app: OAuthApp,
    body: dict[str, str],
    timeout: float,
) -> Grant:
    # client_secret_post (RFC 6749 2.3.1): every provider here takes the client in the body
    body = {**body, "client_id": app.client_id, "client_secret": app.client_secret.reveal()}
    sent: dict[str, Any] = {"json": body} if provider.json_body else {"data": body}
    url = endpoint(provider.token, config)
    try:
        response = await http.post(
            url, headers={"Accept": "application/json"}, timeout=timeout, **sent
        )
    except httpx.HTTPError as exc:
        raise OAuthUnavailable(f"{provider.type}: {type(exc).__name__}") from None
    try:
        answer = response.json()
    except (ValueError, json.JSONDecodeError):
        answer = None
    if response.status_code >= 500 or not isinstance(answer, dict):
        raise OAuthUnavailable(f"{provider.type}'s token endpoint answered {response.status_code}")
    if response.status_code >= 400 or "error" in answer or "access_token" not in answer:
        # RFC 6749 5.2's {error, error_description}; HubSpot's {status, message}
        error = str(answer.get("error") or answer.get("status") or "invalid_request")
        said = str(answer.get("error_description") or answer.get("message") or "")
        raise OAuthRefused(error, said[:MAX_MESSAGE], response.status_code)
    refresh = answer.get("refresh_token")
    expires_in = answer.get("expires_in")
    expires_at = time.time() + float(expires_in) if isinstance(expires_in, int | float) else None
    secret = {"access_token", "refresh_token", "id_token", "signature"}
    return Grant(
        access_token=Secret(str(answer["access_token"])),
        refresh_token=Secret(str(refresh)) if refresh else None,
        expires_at=expires_at,
        details={k: v for k, v in answer.items() if k not in secret},
    )
