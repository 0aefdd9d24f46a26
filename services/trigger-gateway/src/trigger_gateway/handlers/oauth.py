"""Connecting a system of record by OAuth 2.0 (the authorization-code grant, servicekit.oauth).

1. `POST /v1/connections/{id}/oauth` (the tenant's API key): where to send the person who
   grants access (`authorization_url`), with a `state` that names this attempt. The attempt is
   kept ten minutes (`oauth_states`: its PKCE verifier sealed for it) and can be used once.
2. The provider sends the person's browser to `GET /oauth/callback?code=&state=` (no API key:
   the state is the proof). The code is redeemed for tokens, which are sealed as the
   connection's credentials (never answered, logged or published); the connection is
   `connected` and its access token's expiry recorded (`token_expires_at`, epoch seconds), so
   the integrations service refreshes it before it expires. The callback answers the
   connection's view, or 303 to the `return_to` the attempt named.

Our app's client id and secret per provider: OAUTH_<TYPE>_CLIENT_ID / _CLIENT_SECRET. The
redirect URI registered with the provider: `{GATEWAY_PUBLIC_URL}/oauth/callback`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
from contracts.connections import CONNECTION_TYPES, config_of, credentials_purpose
from fastapi import APIRouter, Query, Request, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase
from servicekit.oauth import (
    PROVIDERS,
    Grant,
    OAuthApp,
    OAuthRefused,
    OAuthUnavailable,
    authorization_url,
    new_state,
    new_verifier,
    redeem,
)
from servicekit.problems import UNAVAILABLE
from servicekit.sealing import Keyring, Sealed

from trigger_gateway.handlers.channels import keyring_of
from trigger_gateway.handlers.connections import (
    ConnectionId,
    ConnectionView,
    connection_or_404,
    connection_view,
)
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

log = logging.getLogger(__name__)
Document = dict[str, Any]
ATTEMPT_LIFETIME = timedelta(minutes=10)
CALLBACK_PATH = "/oauth/callback"

router = APIRouter(tags=["connections"])


@dataclass
class OAuthGrants:
    """What the flow needs: our apps, a client for the providers' token endpoints, the
    attempts in flight."""

    apps: dict[str, OAuthApp]
    http: httpx.AsyncClient
    db: AsyncDatabase[Document]


def _grants(request: Request) -> OAuthGrants:
    grants: OAuthGrants = request.app.state.oauth
    return grants


class OAuthStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_to: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https?://[^\s]+$",
        description="Where the callback sends the browser once connected (else it answers JSON).",
    )


class OAuthStarted(BaseModel):
    authorization_url: str = Field(description="Send the person who grants access here.")
    state: str
    expires_at: datetime


@router.post(
    "/v1/connections/{connection_id}/oauth",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*TENANT_ERRORS, 404, 409, *WITH_BODY),
)
async def start_oauth(
    connection_id: ConnectionId,
    tenant: TenantDep,
    gw: GatewayDep,
    request: Request,
    body: OAuthStart | None = None,
) -> OAuthStarted:
    """Start connecting by OAuth: 409 when the connection's type has no OAuth or this
    deployment has no app registered with that provider."""
    doc = await connection_or_404(gw, tenant, connection_id)
    grants, kind = _grants(request), str(doc["type"])
    if kind not in PROVIDERS or not CONNECTION_TYPES[kind].oauth or doc.get("mode") != "provider":
        raise ApiProblem(
            status.HTTP_409_CONFLICT,
            f"a {kind} connection in {doc.get('mode')} mode is not connected by OAuth",
        )
    app = grants.apps.get(kind)
    if app is None:
        variable = f"OAUTH_{kind.upper()}_CLIENT_ID"
        raise ApiProblem(
            status.HTTP_409_CONFLICT,
            f"this deployment has no OAuth app with {kind} ({variable} and _CLIENT_SECRET)",
        )
    provider, keyring = PROVIDERS[kind], keyring_of(gw)
    state, verifier = new_state(), new_verifier(PROVIDERS[kind])
    expires_at = datetime.now(UTC) + ATTEMPT_LIFETIME
    redirect_uri = gw.settings.public_url.rstrip("/") + CALLBACK_PATH
    attempt: Document = {
        "_id": state,
        "tenant_id": tenant,
        "connection_id": connection_id,
        "redirect_uri": redirect_uri,
        "return_to": body.return_to if body else None,
        "expires_at": expires_at,
    }
    if verifier is not None:
        sealed = keyring.seal(verifier, tenant_id=tenant, purpose=_verifier_purpose(state))
        attempt["verifier"] = sealed.to_document()
    await grants.db.oauth_states.delete_many({"expires_at": {"$lt": datetime.now(UTC)}})
    await grants.db.oauth_states.insert_one(attempt)
    config = config_of(str(doc["type"]), doc.get("config") or {})
    url = authorization_url(provider, config, app, redirect_uri, state, verifier)
    return OAuthStarted(authorization_url=url, state=state, expires_at=expires_at)


@router.get(
    CALLBACK_PATH,
    responses=problem_responses(400, 404, 422, 502, 503),
    response_model=ConnectionView,
)
async def oauth_callback(
    gw: GatewayDep,
    request: Request,
    state: Annotated[str, Query(min_length=1, max_length=200)],
    code: Annotated[str | None, Query(max_length=4000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> Any:
    """Where the provider sends the browser back: the code redeemed once, the tokens sealed.
    404 for a state that is unknown or used; 400 for an expired one, or a refusal by the
    person or the provider; 502 when the provider's token endpoint cannot be reached."""
    grants = _grants(request)
    attempt = await grants.db.oauth_states.find_one_and_delete({"_id": state})
    if attempt is None:
        raise ApiProblem(
            status.HTTP_404_NOT_FOUND, "no OAuth attempt with that state (unknown or already used)"
        )
    expires_at = attempt["expires_at"]
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at < datetime.now(UTC):
        raise ApiProblem(status.HTTP_400_BAD_REQUEST, "the OAuth attempt expired: start again")
    tenant, connection_id = str(attempt["tenant_id"]), str(attempt["connection_id"])
    doc = await connection_or_404(gw, tenant, connection_id)
    if error or not code:
        said = f"{error or 'no code'}" + (
            f": {error_description[:300]}" if error_description else ""
        )
        raise ApiProblem(status.HTTP_400_BAD_REQUEST, f"the provider did not grant access ({said})")
    kind, keyring = str(doc["type"]), keyring_of(gw)
    app = grants.apps.get(kind)
    if app is None:
        raise ApiProblem(status.HTTP_400_BAD_REQUEST, f"no OAuth app with {kind} any more")
    verifier = None
    if attempt.get("verifier"):
        verifier = keyring.open(
            Sealed.from_document(attempt["verifier"]),
            tenant_id=tenant,
            purpose=_verifier_purpose(state),
        ).reveal()
    config = config_of(str(doc["type"]), doc.get("config") or {})
    try:
        grant = await redeem(
            grants.http, PROVIDERS[kind], config, app, code, attempt["redirect_uri"], verifier
        )
    except OAuthRefused as refused:
        raise ApiProblem(
            status.HTTP_400_BAD_REQUEST, f"{kind} refused the authorization code ({refused})"
        ) from None
    except OAuthUnavailable as exc:
        raise ApiProblem(
            status.HTTP_502_BAD_GATEWAY, f"{kind}'s token endpoint: {exc}", type_=UNAVAILABLE
        ) from None
    changes = await _connected(grants, keyring, doc, grant)
    updated = await gw.connections.update(tenant, connection_id, changes, unset=("broken_reason",))
    if updated is None:
        raise ApiProblem(status.HTTP_400_BAD_REQUEST, "the connection was deleted meanwhile")
    log.info("connection %s connected by OAuth (%s)", connection_id, kind)
    if attempt.get("return_to"):
        return RedirectResponse(attempt["return_to"], status_code=status.HTTP_303_SEE_OTHER)
    return connection_view(updated)


def _verifier_purpose(state: str) -> str:
    return f"oauth.verifier:{state}"


async def _connected(
    grants: OAuthGrants, keyring: Keyring, doc: Document, grant: Grant
) -> Document:
    """The connection's changes: sealed tokens, their expiry, what the grant said of the
    account (Salesforce's instance URL, Jira's cloud id)."""
    values = grant.credentials()
    sealed = keyring.seal(
        json.dumps(values), tenant_id=doc["tenant_id"], purpose=credentials_purpose(doc["_id"])
    )
    config = dict(doc.get("config") or {})
    if doc["type"] == "salesforce" and isinstance(grant.details.get("instance_url"), str):
        config["instance_url"] = grant.details["instance_url"]
    if doc["type"] == "jira":
        config["cloud_id"] = await _jira_cloud(grants.http, config, values["access_token"])
    return {
        "credentials": sealed.to_document(),
        "credential_fields": sorted(values),
        "status": "connected",
        "token_expires_at": grant.expires_at,
        "config": config,
        "oauth": {
            "scope": grant.details.get("scope"),
            "connected_at": datetime.now(UTC),
        },
    }


async def _jira_cloud(http: httpx.AsyncClient, config: Document, token: str) -> str:
    """The Jira site's cloud id among the sites the token may reach (Atlassian's
    accessible-resources), which OAuth calls are addressed by."""
    base = str(config.get("base_url") or "https://api.atlassian.com").rstrip("/")
    try:
        answer = await http.get(
            f"{base}/oauth/token/accessible-resources",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        sites = answer.json() if answer.status_code == 200 else []
    except (httpx.HTTPError, ValueError):
        raise ApiProblem(
            status.HTTP_502_BAD_GATEWAY, "Atlassian's accessible-resources did not answer"
        ) from None
    wanted = f"https://{config.get('site')}"
    for site in sites if isinstance(sites, list) else []:
        if isinstance(site, dict) and str(site.get("url", "")).rstrip("/") == wanted:
            return str(site["id"])
    raise ApiProblem(
        status.HTTP_400_BAD_REQUEST, f"the grant does not reach the Jira site {config.get('site')}"
    )
