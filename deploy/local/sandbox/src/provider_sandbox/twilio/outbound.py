"""Whether Twilio accepts an outbound message, checked in the order its API checks, and the
Message it creates: from the Messages API and from `<Message>` verbs in a TwiML answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import bad_request
from .magic import refusal_for
from .segments import num_segments
from .sids import MEDIA_MESSAGE, MESSAGE, MESSAGING_SERVICE, is_sid, mint
from .state import WHATSAPP, Account, Message, MessagingService, TwilioState, bare_address

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_BODY = 1600
MAX_MEDIA = 10


@dataclass(frozen=True)
class OutboundRequest:
    to: str | None
    from_: str | None = None
    body: str | None = None
    media_urls: list[str] = field(default_factory=list)
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    direction: str = "outbound-api"


def is_phone_number(address: str) -> bool:
    """E.164 with a plausible length: 7 to 15 digits, 11 for North America (+1 and ten)."""
    number = bare_address(address)
    return bool(E164.match(number)) and (not number.startswith("+1") or len(number) == 12)


def is_whatsapp(address: str) -> bool:
    return address.startswith(WHATSAPP)


def segments_of(message: Message) -> int:
    """WhatsApp and MMS messages are one segment; SMS bodies are counted."""
    if is_whatsapp(message.to) or message.media_urls:
        return 1
    return num_segments(message.body)


def valid_callback_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "_" not in parts.netloc


def _service(state: TwilioState, account: Account, sid: str | None) -> MessagingService | None:
    if sid is None:
        return None
    if not is_sid(sid, MESSAGING_SERVICE):
        raise bad_request(21705, "The Messaging Service is invalid")
    service = state.services.get(sid)
    if service is None or service.account_sid != account.sid:
        raise bad_request(21701, "The Messaging Service does not exist")
    return service


def _sender(state: TwilioState, service: MessagingService | None, request: OutboundRequest) -> str:
    if request.from_:
        return request.from_
    assert service is not None
    pool = [state.numbers[sid] for sid in service.phone_number_sids if sid in state.numbers]
    if not pool:
        raise bad_request(
            21703, "The Messaging Service does not have a phone number available to send a message"
        )
    prefix = WHATSAPP if is_whatsapp(request.to or "") else ""
    return prefix + pool[0].phone_number


def prepare_outbound(state: TwilioState, account: Account, request: OutboundRequest) -> Message:
    """The Message Twilio would create (status queued, or accepted through a Messaging Service),
    or the TwilioApiError it would answer."""
    to = request.to
    if not to:
        raise bad_request(21604, "A 'To' phone number is required.")
    if not request.from_ and not request.messaging_service_sid:
        raise bad_request(
            21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message"
        )
    body = request.body or ""
    if not body and not request.media_urls:
        raise bad_request(21602, "Message body is required.")
    if len(body) > MAX_BODY:
        raise bad_request(21617, "The concatenated message body exceeds the 1600 character limit.")
    if len(request.media_urls) > MAX_MEDIA:
        raise bad_request(21623, "Number of media files exceeds allowed limit")
    service = _service(state, account, request.messaging_service_sid)
    if not is_phone_number(to):
        raise bad_request(21211, f"The 'To' number {to} is not a valid phone number.")
    refusal = refusal_for(to)
    if refusal is not None:
        raise refusal
    sender = _sender(state, service, request)
    if is_whatsapp(sender) != is_whatsapp(to):
        raise bad_request(
            21910, "Invalid From and To pair. From and To should be of the same channel"
        )
    if not is_phone_number(sender):
        raise bad_request(
            21212,
            f"The 'From' number {sender} is not a valid phone number, shortcode, "
            "or alphanumeric sender ID.",
        )
    number = state.number_for(sender)
    if number is None:
        raise bad_request(
            21659, f"'From' {sender} is not a Twilio phone number or Short Code country mismatch"
        )
    if number.account_sid != account.sid:
        raise bad_request(21660, f"Mismatch between the 'From' number {sender} and the account")
    if (number.phone_number, bare_address(to)) in state.opt_outs and not is_whatsapp(to):
        raise bad_request(21610, "Attempt to send to unsubscribed recipient")
    status_callback = request.status_callback or (service.status_callback if service else None)
    if request.status_callback is not None and not valid_callback_url(request.status_callback):
        raise bad_request(21609, f"The StatusCallback URL {request.status_callback} is not valid.")
    message = Message(
        sid=mint(MEDIA_MESSAGE if request.media_urls else MESSAGE),
        account_sid=account.sid,
        direction=request.direction,
        from_=sender,
        to=to,
        body=body,
        media_urls=list(request.media_urls),
        status="accepted" if service else "queued",
        num_segments=0,
        messaging_service_sid=service.sid if service else None,
        status_callback=status_callback or None,
    )
    if service is None:  # through a Messaging Service, counted once a sender is chosen
        message.num_segments = segments_of(message)
    message.move_to(message.status)
    state.messages[message.sid] = message
    return message
