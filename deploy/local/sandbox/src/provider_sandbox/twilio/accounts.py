"""Accounts: the sandbox's own `POST /sandbox/twilio/accounts` (there is no signing up), and
Twilio's Account fetch and API key creation (`POST .../Keys.json`, the SDK's new_keys)."""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from .auth import AccountDependency
from .forms import form_params
from .resources import account_resource, new_key_resource
from .sids import ACCOUNT, API_KEY, mint
from .state import Account, ApiKey, TwilioState


class AccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_sid: str | None = Field(default=None, pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: str | None = Field(default=None, min_length=1, max_length=200)
    friendly_name: str | None = None
    rps: float | None = Field(default=None, gt=0, description="this account's rate limit")


def accounts_router(state: TwilioState, guard: AccountDependency) -> APIRouter:
    router = APIRouter()
    Guarded = Annotated[Account, Depends(guard)]

    @router.post("/sandbox/twilio/accounts", tags=["sandbox"])
    async def create_account(request: AccountRequest) -> JSONResponse:
        """An account (minted when no sid is given); the same sid again answers the same
        account, with the token, name or rate limit given now."""
        sid = request.account_sid or mint(ACCOUNT)
        account = state.accounts.get(sid)
        created = account is None
        if account is None:
            account = state.accounts[sid] = Account(
                sid, request.auth_token or secrets.token_hex(16)
            )
        elif request.auth_token:
            account.auth_token = request.auth_token
        if request.friendly_name is not None:
            account.friendly_name = request.friendly_name
        if request.rps is not None:
            account.rps = request.rps
        body = {"account_sid": account.sid, "auth_token": account.auth_token, "rps": account.rps}
        return JSONResponse(body, status_code=201 if created else 200)

    @router.get("/2010-04-01/Accounts/{AccountSid}.json", tags=["twilio"])
    async def fetch_account(account: Guarded) -> dict[str, Any]:
        return account_resource(account)

    @router.post("/2010-04-01/Accounts/{AccountSid}/Keys.json", tags=["twilio"])
    async def create_key(account: Guarded, request: Request) -> JSONResponse:
        params = await form_params(request)
        key = ApiKey(
            mint(API_KEY),
            secrets.token_urlsafe(24),
            account.sid,
            params.get("FriendlyName") or "",
        )
        state.api_keys[key.sid] = key
        return JSONResponse(new_key_resource(key), status_code=201)

    return router
