"""Messaging Services (messaging.twilio.com `/v1/Services`, the SDK's `client.messaging`):
create, fetch, update, and their sender pool (`/v1/Services/{Sid}/PhoneNumbers`). A message sent
with a MessagingServiceSid starts `accepted` and comes from the pool; what arrives at a pooled
number goes to the service's InboundRequestUrl unless UseInboundWebhookOnNumber."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from .auth import CredentialsDependency
from .errors import bad_request, not_found
from .forms import FormParams, form_params
from .resources import service_resource
from .sids import MESSAGING_SERVICE, mint
from .state import Account, MessagingService, TwilioState, now

SETTABLE = {
    "FriendlyName": "friendly_name",
    "InboundRequestUrl": "inbound_request_url",
    "InboundMethod": "inbound_method",
    "FallbackUrl": "fallback_url",
    "FallbackMethod": "fallback_method",
    "StatusCallback": "status_callback",
}


def _apply(service: MessagingService, params: FormParams) -> None:
    for name, attribute in SETTABLE.items():
        value = params.get(name)
        if value is not None:
            setattr(service, attribute, value.upper() if name.endswith("Method") else value)
    flag = params.get("UseInboundWebhookOnNumber")
    if flag is not None:
        service.use_inbound_webhook_on_number = flag.lower() == "true"
    service.date_updated = now()


def services_router(state: TwilioState, guard: CredentialsDependency) -> APIRouter:
    router = APIRouter(tags=["twilio"])
    Guarded = Annotated[Account, Depends(guard)]

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def owned(account: Account, sid: str, request: Request) -> MessagingService:
        service = state.services.get(sid)
        if service is None or service.account_sid != account.sid:
            raise not_found(request.url.path)
        return service

    def pooled_number(service: MessagingService, sid: str, request: Request) -> dict[str, Any]:
        number = state.numbers[sid]
        return {
            "sid": number.sid,
            "account_sid": number.account_sid,
            "service_sid": service.sid,
            "phone_number": number.phone_number,
            "country_code": "US" if number.phone_number.startswith("+1") else None,
            "capabilities": ["SMS", "MMS", "Voice"],
            "date_created": service.date_updated.isoformat().replace("+00:00", "Z"),
            "date_updated": service.date_updated.isoformat().replace("+00:00", "Z"),
            "url": f"{base_url(request)}/v1/Services/{service.sid}/PhoneNumbers/{number.sid}",
        }

    @router.post("/v1/Services")
    async def create_service(account: Guarded, request: Request) -> JSONResponse:
        params = await form_params(request)
        if not params.get("FriendlyName"):
            raise bad_request(20001, "Missing required parameter FriendlyName in the post body")
        service = MessagingService(mint(MESSAGING_SERVICE), account.sid, "")
        _apply(service, params)
        state.services[service.sid] = service
        return JSONResponse(service_resource(service, base_url(request)), status_code=201)

    @router.get("/v1/Services/{Sid}")
    async def fetch_service(account: Guarded, Sid: str, request: Request) -> dict[str, Any]:
        return service_resource(owned(account, Sid, request), base_url(request))

    @router.post("/v1/Services/{Sid}")
    async def update_service(account: Guarded, Sid: str, request: Request) -> dict[str, Any]:
        service = owned(account, Sid, request)
        _apply(service, await form_params(request))
        return service_resource(service, base_url(request))

    @router.post("/v1/Services/{Sid}/PhoneNumbers")
    async def add_number(account: Guarded, Sid: str, request: Request) -> JSONResponse:
        service = owned(account, Sid, request)
        sid = (await form_params(request)).get("PhoneNumberSid") or ""
        number = state.numbers.get(sid)
        if number is None or number.account_sid != account.sid:
            raise bad_request(21421, "PhoneNumber is invalid")
        if sid in service.phone_number_sids:
            raise bad_request(21710, "Phone Number is already in the Messaging Service")
        if state.service_of(number) is not None:
            raise bad_request(21712, "Phone Number is associated with another Messaging Service")
        service.phone_number_sids.append(sid)
        return JSONResponse(pooled_number(service, sid, request), status_code=201)

    return router
