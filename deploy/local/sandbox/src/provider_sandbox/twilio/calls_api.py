"""The Calls API (`/2010-04-01/Accounts/{AccountSid}/Calls`) for the calls the sandbox plays:
list (To, From, Status; newest first, paged), fetch, and an update with `Status=completed`
(hang up) or `canceled` (while ringing). Placing outbound calls is not modelled."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from .auth import AccountDependency, account_path
from .calls import call_resource
from .errors import bad_request, not_found
from .forms import form_params, query_params
from .paging import page_of
from .state import Account, Call, TwilioState
from .twiml_player import CallPlayer

FILTERS = ("To", "From", "Status")


def calls_router(state: TwilioState, guard: AccountDependency, player: CallPlayer) -> APIRouter:
    router = APIRouter(tags=["twilio"])
    Guarded = Annotated[Account, Depends(guard)]
    collection = "/2010-04-01/Accounts/{AccountSid}/Calls"

    def owned(account: Account, sid: str, request: Request) -> Call:
        call = state.calls.get(sid)
        if call is None or call.account_sid != account.sid:
            raise not_found(request.url.path)
        return call

    @router.get(f"{collection}.json")
    async def list_calls(account: Guarded, request: Request) -> dict[str, Any]:
        query = query_params(request)
        filters = {k: query[k] for k in FILTERS if k in query}
        calls = [
            call_resource(c)
            for c in reversed(state.calls.values())
            if c.account_sid == account.sid
            and filters.get("To", c.to) == c.to
            and filters.get("From", c.from_) == c.from_
            and filters.get("Status", c.call_status) == c.call_status
        ]
        return page_of(
            calls,
            key="calls",
            path=f"{account_path(account.sid)}/Calls.json",
            query=query,
            filters=filters,
        )

    @router.get(f"{collection}/{{Sid}}.json")
    async def fetch_call(account: Guarded, Sid: str, request: Request) -> dict[str, Any]:
        return call_resource(owned(account, Sid, request))

    @router.post(f"{collection}/{{Sid}}.json")
    async def update_call(account: Guarded, Sid: str, request: Request) -> dict[str, Any]:
        """`Status=completed` ends a live call, `canceled` a ringing one (otherwise nothing
        changes, as at Twilio); `Url` / `Twiml` (redirecting a live call) are not modelled."""
        call = owned(account, Sid, request)
        params = await form_params(request)
        if "Url" in params or "Twiml" in params:
            raise bad_request(20001, "The sandbox does not redirect live calls (Url, Twiml)")
        wanted = params.get("Status")
        if wanted not in ("completed", "canceled"):
            raise bad_request(20001, f"Status must be completed or canceled, not {wanted!r}")
        live = not call.ended and (wanted == "completed" or call.state == "ringing")
        if live:
            player.hang_up(call.sid, by="api")
        return call_resource(call)

    return router
