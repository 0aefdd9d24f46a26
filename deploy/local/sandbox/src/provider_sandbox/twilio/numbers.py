"""IncomingPhoneNumbers (`/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers`): buy (any
valid E.164 number nobody in the sandbox owns), list, fetch, update, release. A number's SmsUrl
receives what arrives at it by SMS or WhatsApp, its VoiceUrl the calls (twiml_player.py)."""

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from .auth import AccountDependency, account_path
from .errors import bad_request, not_found
from .forms import FormParams, form_params, query_params
from .outbound import is_phone_number
from .paging import page_of
from .resources import number_resource
from .sids import PHONE_NUMBER, mint
from .state import Account, PhoneNumber, TwilioState, now

# form parameter -> PhoneNumber attribute, for create and update
SETTABLE = {
    "FriendlyName": "friendly_name",
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
}


def friendly(phone_number: str) -> str:
    """Twilio's default FriendlyName: `(415) 555-0100` for a North American number."""
    if phone_number.startswith("+1") and len(phone_number) == 12:
        digits = phone_number[2:]
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return phone_number


def _apply(number: PhoneNumber, params: FormParams) -> None:
    for name, attribute in SETTABLE.items():
        value = params.get(name)
        if value is None:
            continue
        if attribute.endswith("_method"):
            value = value.upper()  # the webhooks use GET for GET, else POST
        setattr(number, attribute, value)
    number.date_updated = now()


def _number_to_buy(state: TwilioState, params: FormParams) -> str:
    wanted, area_code = params.get("PhoneNumber"), params.get("AreaCode")
    if wanted is None and area_code is None:
        raise bad_request(21421, "A 'PhoneNumber' or 'AreaCode' parameter is required.")
    if wanted is None:
        if not re.fullmatch(r"[2-9]\d\d", area_code or ""):
            raise bad_request(21451, "Invalid area code")
        while True:
            wanted = f"+1{area_code}555{secrets.randbelow(10_000):04d}"
            if state.number_for(wanted) is None:
                return wanted
    if not is_phone_number(wanted):
        raise bad_request(21421, "PhoneNumber is invalid")
    if state.number_for(wanted) is not None:
        raise bad_request(21422, "PhoneNumber is not available")
    return wanted


def _matches(pattern: str, phone_number: str) -> bool:
    """Twilio's PhoneNumber filter: a part of the number, `*` for any one digit."""
    regex = "".join(r"\d" if c == "*" else re.escape(c) for c in pattern)
    return re.search(regex, phone_number) is not None


def numbers_router(state: TwilioState, guard: AccountDependency) -> APIRouter:
    router = APIRouter(tags=["twilio"])
    Guarded = Annotated[Account, Depends(guard)]
    collection = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers"

    def owned(account: Account, sid: str, request: Request) -> PhoneNumber:
        number = state.numbers.get(sid)
        if number is None or number.account_sid != account.sid:
            raise not_found(request.url.path)
        return number

    @router.post(f"{collection}.json")
    async def create_number(account: Guarded, request: Request) -> JSONResponse:
        params = await form_params(request)
        phone_number = _number_to_buy(state, params)
        number = PhoneNumber(mint(PHONE_NUMBER), account.sid, phone_number, friendly(phone_number))
        _apply(number, params)
        state.numbers[number.sid] = number
        return JSONResponse(number_resource(number), status_code=201)

    @router.get(f"{collection}.json")
    async def list_numbers(account: Guarded, request: Request) -> dict[str, Any]:
        query = query_params(request)
        filters: dict[str, str] = {
            k: query[k] for k in ("PhoneNumber", "FriendlyName") if k in query
        }
        numbers = [
            number_resource(n)
            for n in state.numbers.values()
            if n.account_sid == account.sid
            and ("PhoneNumber" not in filters or _matches(filters["PhoneNumber"], n.phone_number))
            and filters.get("FriendlyName", n.friendly_name) == n.friendly_name
        ]
        return page_of(
            numbers,
            key="incoming_phone_numbers",
            path=f"{account_path(account.sid)}/IncomingPhoneNumbers.json",
            query=query,
            filters=filters,
        )

    @router.get(f"{collection}/{{Sid}}.json")
    async def fetch_number(account: Guarded, Sid: str, request: Request) -> dict[str, Any]:
        return number_resource(owned(account, Sid, request))

    @router.post(f"{collection}/{{Sid}}.json")
    async def update_number(account: Guarded, Sid: str, request: Request) -> dict[str, Any]:
        number = owned(account, Sid, request)
        _apply(number, await form_params(request))
        return number_resource(number)

    @router.delete(f"{collection}/{{Sid}}.json")
    async def release_number(account: Guarded, Sid: str, request: Request) -> Response:
        number = owned(account, Sid, request)
        del state.numbers[number.sid]
        for service in state.services.values():
            if number.sid in service.phone_number_sids:
                service.phone_number_sids.remove(number.sid)
        return Response(status_code=204)

    return router
