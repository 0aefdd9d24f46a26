"""Playing the customer: `POST /sandbox/twilio/inbound` makes a message arrive at a registered
number, POSTs Twilio's incoming-message webhook to its SmsUrl (its SmsFallbackUrl when that
fails), and sends the `<Message>` verbs of the TwiML answer as Twilio would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urljoin

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from .errors import TwilioApiError
from .incoming import content_type_of, incoming_params, opt_out_change
from .outbound import (
    OutboundRequest,
    is_phone_number,
    is_whatsapp,
    prepare_outbound,
    segments_of,
)
from .sids import MEDIA_MESSAGE, MESSAGE, mint
from .state import WHATSAPP, Message, PhoneNumber, TwilioState, WebhookRecord, bare_address
from .twiml import TwimlError, message_verbs
from .webhooks import Signing, WebhookSender


class InboundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from", description="the customer, E.164")
    to: str | None = Field(default=None, description="a registered IncomingPhoneNumber")
    body: str = ""
    media_urls: list[str] = Field(default_factory=list, max_length=10)
    media_content_types: list[str] | None = None
    channel: Literal["sms", "whatsapp"] | None = None
    profile_name: str | None = None
    replay: bool = Field(default=False, description="resend an earlier incoming message")
    message_sid: str | None = Field(default=None, pattern=r"^(SM|MM)[0-9a-fA-F]{32}$")
    signature: Signing = Field(default="valid", description="valid, none or wrong")


class Customer:
    """The other end of the tenant's numbers."""

    def __init__(
        self, state: TwilioState, sender: WebhookSender, deliver: Callable[[Message], None]
    ) -> None:
        self.state = state
        self.sender = sender
        self.deliver = deliver

    def arrive(self, request: InboundRequest) -> Message:
        """A new incoming message, recorded as Twilio records it, with its webhook params."""
        if not request.from_ or not request.to:
            raise HTTPException(422, "from and to are required for a new incoming message")
        whatsapp = request.channel == "whatsapp" or any(
            is_whatsapp(a) for a in (request.from_, request.to)
        )
        prefix = WHATSAPP if whatsapp else ""
        sender, recipient = (prefix + bare_address(a) for a in (request.from_, request.to))
        if not is_phone_number(sender):
            raise HTTPException(422, f"from {request.from_!r} is not an E.164 number")
        number = self.state.number_for(recipient)
        if number is None:
            raise HTTPException(404, f"no account has the IncomingPhoneNumber {request.to}")
        content_types = request.media_content_types or [
            content_type_of(url) for url in request.media_urls
        ]
        if len(content_types) != len(request.media_urls):
            raise HTTPException(422, "media_content_types must match media_urls one to one")
        service = self.state.service_of(number)
        message = Message(
            sid=request.message_sid or mint(MEDIA_MESSAGE if request.media_urls else MESSAGE),
            account_sid=number.account_sid,
            direction="inbound",
            from_=sender,
            to=recipient,
            body=request.body,
            media_urls=list(request.media_urls),
            status="received",
            num_segments=1,
            messaging_service_sid=service.sid if service else None,
        )
        message.num_segments = segments_of(message)
        message.date_sent = message.date_created
        message.move_to("received")
        message.webhook_params = incoming_params(
            message,
            whatsapp=whatsapp,
            content_types=content_types,
            profile_name=request.profile_name,
        )
        self.state.messages[message.sid] = message
        opted_out = None if whatsapp else opt_out_change(request.body)
        pair = (number.phone_number, bare_address(sender))
        if opted_out is True:
            self.state.opt_outs.add(pair)
        elif opted_out is False:
            self.state.opt_outs.discard(pair)
        return message

    def earlier(self, request: InboundRequest) -> Message | None:
        if request.message_sid is not None:
            found = self.state.messages.get(request.message_sid)
            if found is not None and found.direction != "inbound":
                raise HTTPException(409, f"{request.message_sid} is not an incoming message")
            if found is not None or not request.replay:
                return found
            raise HTTPException(404, f"no incoming message {request.message_sid} to replay")
        if not request.replay:
            return None
        inbound = [
            m
            for m in self.state.messages.values()
            if m.direction == "inbound"
            and (request.to is None or bare_address(m.to) == bare_address(request.to))
        ]
        if not inbound:
            raise HTTPException(404, "no incoming message to replay")
        return inbound[-1]

    async def webhook(self, message: Message, signing: Signing) -> dict[str, Any]:
        """POST the message's webhook (the same parameters on a replay) and act on the answer."""
        number = self.state.number_for(message.to)
        account = self.state.accounts.get(message.account_sid)
        if number is None or account is None:
            raise HTTPException(404, f"the number {message.to} is no longer registered")
        url, method, fallback_url, fallback_method = self._target(number)
        result: dict[str, Any] = {
            "message_sid": message.sid,
            "account_sid": message.account_sid,
            "url": url or None,
            "status": None,
            "content_type": None,
            "body": None,
            "webhook": None,
            "fallback": None,
            "replies": [],
            "error": None,
        }
        if not url:
            result["error"] = "the number has no SmsUrl: the message is recorded, nothing sent"
            return result

        async def send(kind: str, url: str, method: str) -> WebhookRecord:
            return await self.sender.send(
                kind=kind,
                message_sid=message.sid,
                url=url,
                method=method,
                params=message.webhook_params or {},
                auth_token=account.auth_token,
                signing=signing,
            )

        answer = primary = await send("incoming-message", url, method)
        result["webhook"] = primary.to_json()
        if not primary.succeeded and fallback_url:
            answer = await send("incoming-message-fallback", fallback_url, fallback_method)
            result["fallback"] = answer.to_json()
        result.update(status=answer.status, content_type=answer.content_type, body=answer.body)
        result["error"] = answer.error
        if answer.succeeded:
            result["replies"] = self._reply(message, answer)
        return result

    def _target(self, number: PhoneNumber) -> tuple[str, str, str, str]:
        service = self.state.service_of(number)
        if service and service.inbound_request_url and not service.use_inbound_webhook_on_number:
            return (
                service.inbound_request_url,
                service.inbound_method,
                service.fallback_url,
                service.fallback_method,
            )
        return (
            number.sms_url,
            number.sms_method,
            number.sms_fallback_url,
            number.sms_fallback_method,
        )

    def _reply(self, message: Message, answer: WebhookRecord) -> list[dict[str, Any]]:
        """Twilio sends each `<Message>` of a TwiML answer; a text/plain answer is the reply."""
        document = answer.body or ""
        if (answer.content_type or "").startswith("text/plain"):
            document = f"<Response><Message>{_xml_text(document)}</Message></Response>"
        try:
            verbs = message_verbs(document)
        except TwimlError as exc:
            return [{"error": str(exc)}]
        account = self.state.accounts[message.account_sid]
        replies: list[dict[str, Any]] = []
        for verb in verbs:
            callback = verb.status_callback or verb.action
            request = OutboundRequest(
                to=verb.to or message.from_,
                from_=verb.from_ or message.to,
                body=verb.body,
                media_urls=verb.media_urls,
                status_callback=urljoin(answer.url, callback) if callback else None,
                direction="outbound-reply",
            )
            try:
                reply = prepare_outbound(self.state, account, request)
            except TwilioApiError as exc:
                replies.append({"error": exc.body()})
                continue
            self.deliver(reply)
            replies.append(
                {"sid": reply.sid, "to": reply.to, "from": reply.from_, "body": reply.body}
            )
        return replies


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inbound_router(customer: Customer) -> APIRouter:
    router = APIRouter(tags=["sandbox"])

    @router.post("/sandbox/twilio/inbound")
    async def inbound(request: InboundRequest) -> dict[str, Any]:
        """A customer's message to a registered number (or a replay of an earlier one: the same
        MessageSid and parameters, as Twilio resends them); the webhook's answer and replies."""
        message = customer.earlier(request) or customer.arrive(request)
        return await customer.webhook(message, request.signature)

    return router
