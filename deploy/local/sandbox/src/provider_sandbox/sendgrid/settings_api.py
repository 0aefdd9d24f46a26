"""SendGrid's webhook settings (v3): the Event Webhook's URL, its signing and public key, and
Inbound Parse hosts; plus the sandbox's own account creation (there is no signing up)."""

import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from .errors import Problem, SendGridApiError
from .state import Account, SendGridState, new_api_key


class AccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str | None = Field(default=None, min_length=8, max_length=200)
    event_webhook_url: str | None = None
    parse_hosts: dict[str, str] = Field(default_factory=dict, description="hostname -> URL")
    rps: float | None = Field(default=None, gt=0)


def account_view(account: Account) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "api_key": account.api_key,
        "public_key": account.public_key,
        "event_webhook_url": account.event_webhook_url,
        "parse_hosts": account.parse_hosts,
        "rps": account.rps,
    }


def event_settings(account: Account) -> dict[str, Any]:
    kinds = ("processed", "delivered", "bounce", "dropped", "deferred", "open", "click")
    return {
        "enabled": account.event_webhook_enabled,
        "url": account.event_webhook_url,
        **dict.fromkeys(kinds, True),
    }


def settings_router(state: SendGridState, guard: Callable[[Request], Account]) -> APIRouter:
    router = APIRouter()
    Guarded = Annotated[Account, Depends(guard)]

    @router.post("/sandbox/sendgrid/accounts", tags=["sandbox"])
    async def create_account(request: AccountRequest) -> JSONResponse:
        """An account with an API key (minted when none is given) and its Event Webhook key
        pair; the same key again answers the same account, with what is given now."""
        account = state.by_key.get(request.api_key or "")
        created = account is None
        if account is None:
            account = Account("sg" + secrets.token_hex(6), request.api_key or new_api_key())
            state.add(account)
        if request.event_webhook_url is not None:
            account.event_webhook_url = request.event_webhook_url
        account.parse_hosts.update({h.lower(): u for h, u in request.parse_hosts.items()})
        if request.rps is not None:
            account.rps = request.rps
        return JSONResponse(account_view(account), status_code=201 if created else 200)

    @router.get("/v3/user/webhooks/event/settings", tags=["sendgrid"])
    async def get_event_settings(account: Guarded) -> dict[str, Any]:
        return event_settings(account)

    @router.patch("/v3/user/webhooks/event/settings", tags=["sendgrid"])
    async def patch_event_settings(request: Request, account: Guarded) -> dict[str, Any]:
        body = await _json(request)
        if "url" in body:
            account.event_webhook_url = str(body["url"] or "")
        if "enabled" in body:
            account.event_webhook_enabled = bool(body["enabled"])
        return event_settings(account)

    @router.get("/v3/user/webhooks/event/settings/signed", tags=["sendgrid"])
    async def get_signed(account: Guarded) -> dict[str, Any]:
        return {"public_key": account.public_key if account.signed else ""}

    @router.patch("/v3/user/webhooks/event/settings/signed", tags=["sendgrid"])
    async def patch_signed(request: Request, account: Guarded) -> dict[str, Any]:
        body = await _json(request)
        account.signed = bool(body.get("enabled", True))
        return {"public_key": account.public_key if account.signed else ""}

    @router.post("/v3/user/webhooks/parse/settings", tags=["sendgrid"], status_code=201)
    async def add_parse(request: Request, account: Guarded) -> dict[str, Any]:
        body = await _json(request)
        hostname, url = body.get("hostname"), body.get("url")
        if not isinstance(hostname, str) or not hostname or not isinstance(url, str) or not url:
            raise SendGridApiError(
                400,
                [Problem("hostname and url are required", "hostname" if not hostname else "url")],
            )
        account.parse_hosts[hostname.lower()] = url
        return {"hostname": hostname, "url": url, "spam_check": False, "send_raw": False}

    @router.get("/v3/user/webhooks/parse/settings", tags=["sendgrid"])
    async def list_parse(account: Guarded) -> dict[str, Any]:
        return {
            "result": [
                {"hostname": h, "url": u, "spam_check": False, "send_raw": False}
                for h, u in sorted(account.parse_hosts.items())
            ]
        }

    return router


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise SendGridApiError(400, [Problem("Bad Request")]) from None
    if not isinstance(body, dict):
        raise SendGridApiError(400, [Problem("Bad Request")])
    return body
