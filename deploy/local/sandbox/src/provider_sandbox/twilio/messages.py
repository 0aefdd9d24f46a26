"""The Messages API (`/2010-04-01/Accounts/{AccountSid}/Messages`): create, list (To, From and
DateSent filters, newest first, paged), fetch, delete."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from .auth import AccountDependency, account_path
from .errors import bad_request, not_found
from .forms import form_params, query_params
from .outbound import OutboundRequest, prepare_outbound
from .paging import page_of
from .resources import message_resource
from .state import Account, Message, TwilioState

DATE_FILTERS = ("DateSent", "DateSent<", "DateSent>")


def _moment(value: str) -> datetime | date:
    try:
        if "T" not in value:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(20001, f"Invalid DateSent: {value[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sent_filter(name: str, value: str) -> Callable[[datetime], bool]:
    """DateSent: that day (or moment); DateSent<: on or before; DateSent>: on or after."""
    wanted = _moment(value)

    def key(sent: datetime) -> datetime | date:
        return sent if isinstance(wanted, datetime) else sent.date()

    if name == "DateSent<":
        return lambda sent: key(sent) <= wanted
    if name == "DateSent>":
        return lambda sent: key(sent) >= wanted
    return lambda sent: key(sent) == wanted


def _listed(message: Message, query: dict[str, str]) -> bool:
    if "To" in query and message.to != query["To"]:
        return False
    if "From" in query and message.from_ != query["From"]:
        return False
    for name in (n for n in DATE_FILTERS if n in query):
        if message.date_sent is None or not _sent_filter(name, query[name])(message.date_sent):
            return False
    return True


def messages_router(
    state: TwilioState, guard: AccountDependency, deliver: Callable[[Message], None]
) -> APIRouter:
    router = APIRouter(tags=["twilio"])
    Guarded = Annotated[Account, Depends(guard)]
    collection = "/2010-04-01/Accounts/{AccountSid}/Messages"

    def owned(account: Account, sid: str, request: Request) -> Message:
        message = state.messages.get(sid)
        if message is None or message.account_sid != account.sid:
            raise not_found(request.url.path)
        return message

    @router.post(f"{collection}.json")
    async def create_message(account: Guarded, request: Request) -> JSONResponse:
        params = await form_params(request)
        message = prepare_outbound(
            state,
            account,
            OutboundRequest(
                to=params.get("To"),
                from_=params.get("From"),
                body=params.get("Body"),
                media_urls=params.getlist("MediaUrl"),
                messaging_service_sid=params.get("MessagingServiceSid"),
                status_callback=params.get("StatusCallback"),
            ),
        )
        deliver(message)
        return JSONResponse(message_resource(message), status_code=201)

    @router.get(f"{collection}.json")
    async def list_messages(account: Guarded, request: Request) -> dict[str, Any]:
        query = query_params(request)
        filters = {k: query[k] for k in ("To", "From", *DATE_FILTERS) if k in query}
        listed = [
            message_resource(m)
            for m in reversed(state.messages.values())
            if m.account_sid == account.sid and _listed(m, filters)
        ]
        return page_of(
            listed,
            key="messages",
            path=f"{account_path(account.sid)}/Messages.json",
            query=query,
            filters=filters,
        )

    @router.get(f"{collection}/{{Sid}}.json")
    async def fetch_message(account: Guarded, Sid: str, request: Request) -> dict[str, Any]:
        return message_resource(owned(account, Sid, request))

    @router.delete(f"{collection}/{{Sid}}.json")
    async def delete_message(account: Guarded, Sid: str, request: Request) -> Response:
        del state.messages[owned(account, Sid, request).sid]
        return Response(status_code=204)

    return router
