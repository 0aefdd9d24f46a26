"""What Twilio POSTs to a number's SmsUrl when a message arrives: the request parameters of
"Twilio's request to your incoming message Webhook URL", SMS and WhatsApp."""

from __future__ import annotations

import mimetypes
from urllib.parse import urlsplit

from .auth import API_VERSION
from .state import Message, bare_address

# calling code -> ISO country, for FromCountry / ToCountry (Twilio sends "" when it has none)
COUNTRIES = {
    "1": "US",
    "7": "RU",
    "31": "NL",
    "33": "FR",
    "34": "ES",
    "39": "IT",
    "41": "CH",
    "44": "GB",
    "45": "DK",
    "46": "SE",
    "47": "NO",
    "48": "PL",
    "49": "DE",
    "52": "MX",
    "55": "BR",
    "61": "AU",
    "81": "JP",
    "91": "IN",
    "351": "PT",
    "353": "IE",
}
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})


def country_of(address: str) -> str:
    digits = bare_address(address).removeprefix("+")
    return next((COUNTRIES[digits[:n]] for n in (3, 2, 1) if digits[:n] in COUNTRIES), "")


def content_type_of(url: str) -> str:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed or "application/octet-stream"


def whatsapp_message_type(content_types: list[str]) -> str:
    if not content_types:
        return "text"
    kind = content_types[0].split("/")[0]
    return kind if kind in ("image", "video", "audio") else "document"


def incoming_params(
    message: Message,
    *,
    whatsapp: bool,
    content_types: list[str],
    profile_name: str | None,
) -> dict[str, str]:
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "Body": message.body,
        "From": message.from_,
        "MessageSid": message.sid,
        "NumMedia": str(len(message.media_urls)),
        "NumSegments": str(message.num_segments),
        "SmsMessageSid": message.sid,
        "SmsSid": message.sid,
        "SmsStatus": "received",
        "To": message.to,
    }
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    for n, (url, content_type) in enumerate(zip(message.media_urls, content_types, strict=True)):
        params[f"MediaUrl{n}"] = url
        params[f"MediaContentType{n}"] = content_type
    if whatsapp:
        params["ProfileName"] = profile_name or "Customer"
        params["WaId"] = bare_address(message.from_).removeprefix("+")
        params["MessageType"] = whatsapp_message_type(content_types)
        params["ReferralNumMedia"] = "0"
    else:
        for side, address in (("From", message.from_), ("To", message.to)):
            params[f"{side}Country"] = country_of(address)
            params[f"{side}State"] = ""
            params[f"{side}City"] = ""
            params[f"{side}Zip"] = ""
    return params


def opt_out_change(body: str) -> bool | None:
    """True for Twilio's default opt-out keywords (STOP, ...), False for opt-in ones."""
    keyword = body.strip().upper()
    if keyword in OPT_OUT:
        return True
    if keyword in OPT_IN:
        return False
    return None
