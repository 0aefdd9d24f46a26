"""Magic recipient numbers, modelled on Twilio's test numbers (+1 500 555 ...): some are refused
when the message is created, others make its delivery end failed or undelivered. The README
lists them; any other number is delivered."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TwilioApiError, bad_request
from .state import bare_address


@dataclass(frozen=True)
class Fate:
    """How an outbound message's delivery ends."""

    status: str  # delivered, failed (never sent), undelivered (sent, then a carrier said no)
    error_code: int | None = None
    error_message: str | None = None


DELIVERED = Fate("delivered")

FATES = {
    "+15005553003": Fate("failed", 30003, "Unreachable destination handset"),
    "+15005553005": Fate("undelivered", 30005, "Unknown destination handset"),
    "+15005553006": Fate("undelivered", 30006, "Landline or unreachable carrier"),
    "+15005553007": Fate("undelivered", 30007, "Message filtered"),
    "+15005553008": Fate("failed", 30008, "Unknown error"),
}

# Twilio's own test numbers for `To`, refused at create with these codes
REFUSALS = {
    "+15005550001": (21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number: {to}, is not currently reachable via SMS."),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number: {to}.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


def refusal_for(to: str) -> TwilioApiError | None:
    refusal = REFUSALS.get(bare_address(to))
    if refusal is None:
        return None
    code, message = refusal
    return bad_request(code, message.format(to=to))


def fate_of(to: str) -> Fate:
    return FATES.get(bare_address(to), DELIVERED)
