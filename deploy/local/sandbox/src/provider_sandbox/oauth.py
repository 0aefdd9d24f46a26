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

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

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


# -- the authorization servers -------------------------------------------------------------------


PATHS = {  # provider -> (authorize, token)
    "shopify": ("/admin/oauth/authorize", "/admin/oauth/access_token"),
    "salesforce": ("/services/oauth2/authorize", "/services/oauth2/token"),
    "hubspot": ("/oauth/authorize", "/oauth/v1/token"),
    "jira": ("/authorize", "/oauth/token"),
    "zendesk": ("/oauth/authorizations/new", "/oauth/tokens"),
}
CODE_LIFETIME = 60.0


@dataclass
class Issuer:
    """A provider part the servers issue tokens for: its accounts by key, its token registry."""

    account: Callable[[str], Any | None]
    tokens: IssuedTokens[Any]
    details: Callable[[Any], dict[str, Any]] = lambda account: {}


@dataclass
class OAuthApp:
    provider: str
    client_id: str
    client_secret: str
    redirect_uri: str
    account: str
    access_lifetime: float | None
    refresh: bool
    deny: bool
    redeemed: int = 0
    refreshed: int = 0


@dataclass
class Code:
    app: OAuthApp
    redirect_uri: str
    challenge: str | None
    expires: float
    used: bool = False


@dataclass
class OAuthState:
    issuers: dict[str, Issuer] = field(default_factory=dict)
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> grant
    revoked: set[str] = field(default_factory=set)  # grants

    def reset(self) -> None:
        self.apps.clear()
        self.codes.clear()
        self.refresh_tokens.clear()
        self.revoked.clear()


def grant_of(app: OAuthApp) -> str:
    return f"{app.client_id}:{app.account}"


class AppSpec(BaseModel):
    provider: str = Field(pattern="^(shopify|salesforce|hubspot|jira|zendesk)$")
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=200)
    redirect_uri: str = Field(min_length=1, max_length=2000)
    account: str = Field(
        min_length=1,
        max_length=200,
        description="The account the consent grants: a HubSpot portal id, a Zendesk "
        "subdomain, a Shopify domain, a Salesforce org id, a Jira site.",
    )
    access_lifetime: float | None = Field(
        1800, gt=0, description="Seconds an access token lives (None: it does not expire)."
    )
    refresh: bool = Field(True, description="Issue refresh tokens.")
    deny: bool = Field(False, description="The person presses Deny.")


def _token_error(provider: str, error: str, description: str) -> JSONResponse:
    """The provider's own shape of a token endpoint's refusal."""
    if provider == "hubspot":
        status = {"invalid_grant": "BAD_AUTH_CODE", "invalid_client": "BAD_CLIENT_ID"}.get(
            error, "BAD_REQUEST"
        )
        if "refresh" in description:
            status = "BAD_REFRESH_TOKEN"
        body = {"status": status, "message": description, "correlationId": str(uuid.uuid4())}
        return JSONResponse(body, status_code=400)
    code = 403 if provider == "jira" and error == "invalid_grant" else 400
    if error == "invalid_client":
        code = 401
    return JSONResponse({"error": error, "error_description": description}, status_code=code)


def oauth_routers(state: OAuthState) -> list[APIRouter]:
    api = APIRouter(tags=["oauth"])

    def authorize_for(provider: str) -> Callable[..., Any]:
        async def authorize(request: Request) -> Response:
            query = request.query_params
            app = state.apps.get(query.get("client_id", ""))
            if app is None or app.provider != provider:
                return PlainTextResponse("error: invalid client_id", status_code=400)
            redirect_uri = query.get("redirect_uri") or app.redirect_uri
            if redirect_uri != app.redirect_uri:  # RFC 6749 4.1.2.1: never redirect then
                return PlainTextResponse("error: redirect_uri mismatch", status_code=400)

            def back(**params: str) -> RedirectResponse:
                if query.get("state") is not None:
                    params["state"] = query["state"]
                sep = "&" if "?" in redirect_uri else "?"
                return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", 302)

            if query.get("response_type") != "code":
                return back(error="unsupported_response_type")
            challenge = query.get("code_challenge")
            if challenge and query.get("code_challenge_method") != "S256":
                return back(error="invalid_request", error_description="S256 only")
            if app.deny:
                return back(error="access_denied", error_description="The user denied access")
            code = secrets.token_urlsafe(24)
            state.codes[code] = Code(app, redirect_uri, challenge, time.monotonic() + CODE_LIFETIME)
            return back(code=code)

        return authorize

    def token_for(provider: str) -> Callable[..., Any]:
        async def token(request: Request) -> Response:
            raw = await request.body()
            if request.headers.get("content-type", "").startswith("application/json"):
                try:
                    form = {k: str(v) for k, v in json.loads(raw or b"{}").items()}
                except (ValueError, AttributeError):
                    return _token_error(provider, "invalid_request", "body is not JSON")
            else:
                form = {k: str(v) for k, v in (await request.form()).items()}
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            header = request.headers.get("authorization", "")
            if header.lower().startswith("basic "):
                pair = base64.b64decode(header[6:]).decode(errors="replace")
                client_id, _, secret = pair.partition(":")
            app = state.apps.get(client_id)
            if app is None or app.provider != provider or app.client_secret != secret:
                return _token_error(provider, "invalid_client", "client authentication failed")
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                code = state.codes.get(form.get("code", ""))
                if code is None or code.used or code.app is not app:
                    return _token_error(provider, "invalid_grant", "invalid authorization code")
                code.used = True
                if time.monotonic() > code.expires:
                    return _token_error(provider, "invalid_grant", "authorization code expired")
                if form.get("redirect_uri") != code.redirect_uri:
                    return _token_error(provider, "invalid_grant", "redirect_uri mismatch")
                if code.challenge is not None:
                    verifier = form.get("code_verifier", "")
                    digest = hashlib.sha256(verifier.encode()).digest()
                    made = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                    if not verifier or not secrets.compare_digest(made, code.challenge):
                        return _token_error(provider, "invalid_grant", "invalid code verifier")
                app.redeemed += 1
                return issue(app, refresh=app.refresh)
            if grant_type == "refresh_token":
                held = form.get("refresh_token", "")
                grant = state.refresh_tokens.get(held)
                if grant is None or grant in state.revoked or grant != grant_of(app):
                    return _token_error(
                        provider, "invalid_grant", "expired or unknown refresh token"
                    )
                app.refreshed += 1
                if provider == "jira":  # Atlassian rotates refresh tokens
                    del state.refresh_tokens[held]
                    return issue(app, refresh=True)
                return issue(app, refresh=False)
            return _token_error(provider, "unsupported_grant_type", f"{grant_type}")

        return token

    def issue(app: OAuthApp, refresh: bool) -> JSONResponse:
        issuer = state.issuers.get(app.provider)
        account = issuer.account(app.account) if issuer else None
        if issuer is None or account is None:
            return _token_error(app.provider, "invalid_grant", f"no account {app.account}")
        grant = grant_of(app)
        lifetime = None if app.provider == "shopify" else app.access_lifetime
        body: dict[str, Any] = {
            "access_token": issuer.tokens.issue(account, lifetime, grant),
            "token_type": "bearer" if app.provider in ("hubspot", "zendesk") else "Bearer",
            "scope": "granted",
        }
        if lifetime is not None and app.provider != "salesforce":
            body["expires_in"] = int(lifetime) if lifetime >= 1 else lifetime
        if refresh and app.provider != "shopify":
            refresh_token = secrets.token_urlsafe(32)
            state.refresh_tokens[refresh_token] = grant
            body["refresh_token"] = refresh_token
        body |= issuer.details(account)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    for provider, (authorize_path, token_path) in PATHS.items():
        api.add_api_route(authorize_path, authorize_for(provider), methods=["GET"])
        api.add_api_route(token_path, token_for(provider), methods=["POST"])

    sandbox = APIRouter(prefix="/sandbox/oauth", tags=["sandbox"])

    @sandbox.post("/apps", status_code=201)
    async def register(spec: AppSpec) -> dict[str, Any]:
        """Register (or replace) an app with a provider, and the account its consent grants."""
        app = OAuthApp(**spec.model_dump())
        state.apps[spec.client_id] = app
        state.revoked.discard(grant_of(app))
        return {"client_id": app.client_id, "provider": app.provider, "account": app.account}

    @sandbox.get("/apps/{client_id}")
    async def app_view(client_id: str) -> dict[str, Any]:
        app = state.apps.get(client_id)
        if app is None:
            raise HTTPException(404, f"no app {client_id}")
        return {"provider": app.provider, "account": app.account, "redeemed": app.redeemed,
                "refreshed": app.refreshed, "revoked": grant_of(app) in state.revoked}  # fmt: skip

    @sandbox.post("/apps/{client_id}/revoke")
    async def revoke(client_id: str) -> dict[str, Any]:
        """The account's admin removes the app: its refresh and access tokens stop working."""
        app = state.apps.get(client_id)
        if app is None:
            raise HTTPException(404, f"no app {client_id}")
        grant = grant_of(app)
        state.revoked.add(grant)
        issuer = state.issuers.get(app.provider)
        gone = issuer.tokens.revoke_grant(grant) if issuer else 0
        return {"revoked": grant, "access_tokens": gone}

    @sandbox.post("/apps/{client_id}/expire")
    async def expire(client_id: str) -> dict[str, Any]:
        """The provider ends the grant's sessions early (its access tokens stop working; its
        refresh tokens still do): the next call is a 401."""
        app = state.apps.get(client_id)
        if app is None:
            raise HTTPException(404, f"no app {client_id}")
        issuer = state.issuers.get(app.provider)
        return {"access_tokens": issuer.tokens.revoke_grant(grant_of(app)) if issuer else 0}

    return [api, sandbox]
