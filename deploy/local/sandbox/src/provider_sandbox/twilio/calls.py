"""What Twilio sends about a call and what it answers about one: the parameters of its voice
requests ("TwiML Voice: Twilio's Request"), a `<Gather>`'s result, the call status callback, the
Call resource of the REST API, and the sandbox's record of a call for tests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .auth import API_VERSION, account_path
from .incoming import country_of
from .numbers import friendly
from .resources import rfc2822
from .state import Call, WebhookRecord, now

STATUS_CALLBACK = "call-status-callback"
DEFAULT_CONFIDENCE = 0.9  # what the recognizer reports when the test gives none


@dataclass(frozen=True)
class CallerInput:
    """What the caller answers a `<Gather>`: speech, keys, or nothing (it times out now)."""

    speech: str | None = None
    digits: str | None = None
    confidence: float | None = None

    @property
    def silent(self) -> bool:
        return self.speech is None and self.digits is None

    def to_json(self) -> dict[str, Any]:
        if self.speech is not None:
            confidence = DEFAULT_CONFIDENCE if self.confidence is None else self.confidence
            return {"speech": self.speech, "confidence": confidence}
        return {"digits": self.digits}


def call_params(call: Call) -> dict[str, str]:
    """Sent with every request about the call: its ids, the parties (also under their
    older names Caller and Called) and what Twilio knows of where they are."""
    params = {
        "AccountSid": call.account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call.sid,
        "CallStatus": call.call_status,
        "Called": call.to,
        "Caller": call.from_,
        "Direction": "inbound",
        "From": call.from_,
        "To": call.to,
    }
    for side, alias, address in (
        ("From", "Caller", call.from_),
        ("To", "Called", call.to),
    ):
        for name in (side, alias):
            params[f"{name}Country"] = country_of(address)
            params[f"{name}State"] = ""
            params[f"{name}City"] = ""
            params[f"{name}Zip"] = ""
    return params


def gather_params(call: Call, heard: CallerInput) -> dict[str, str]:
    """A `<Gather>` action's request: the call's parameters and what the caller said or keyed."""
    params = call_params(call)
    if heard.speech is not None:
        params["SpeechResult"] = heard.speech
        params["Confidence"] = str(heard.to_json()["confidence"])
    elif heard.digits is not None:
        params["Digits"] = heard.digits
    return params


def status_callback_params(call: Call, sequence: int) -> dict[str, str]:
    """The call status callback when the call has ended (the only event Twilio sends to an
    IncomingPhoneNumber's StatusCallback): CallDuration in seconds, Duration in billed
    minutes, Timestamp (RFC 2822), CallbackSource and SequenceNumber."""
    seconds = call.duration_s or 0.0
    return {
        **call_params(call),
        "CallDuration": str(round(seconds)),
        "Duration": str(max(1, math.ceil(seconds / 60))),
        "Timestamp": rfc2822(now()) or "",
        "CallbackSource": "call-progress-events",
        "SequenceNumber": str(sequence),
    }


def call_resource(call: Call) -> dict[str, Any]:
    """The Call resource (`/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json`)."""
    uri = f"{account_path(call.account_sid)}/Calls/{call.sid}"
    duration = call.duration_s
    subresources = ("events", "notifications", "recordings", "payments", "streams", "siprec")
    return {
        "account_sid": call.account_sid,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(call.date_created),
        "date_updated": rfc2822(call.date_updated),
        "direction": "inbound",
        "duration": None if duration is None else str(round(duration)),
        "end_time": rfc2822(call.end_time),
        "forwarded_from": None,
        "from": call.from_,
        "from_formatted": friendly(call.from_),
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": call.phone_number_sid,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": rfc2822(call.date_created),
        "status": call.call_status,
        "subresource_uris": {name: f"{uri}/{name.title()}.json" for name in subresources},
        "to": call.to,
        "to_formatted": friendly(call.to),
        "trunk_sid": None,
        "uri": f"{uri}.json",
    }


def call_record(call: Call, webhooks: list[WebhookRecord]) -> dict[str, Any]:
    """The sandbox's view of a call, for tests: its state, every verb played, every request."""
    records = [w for w in webhooks if w.call_sid == call.sid]
    gather = next((v for v in reversed(call.transcript) if v["verb"] == "gather"), None)
    return {
        "sid": call.sid,
        "account_sid": call.account_sid,
        "from": call.from_,
        "to": call.to,
        "phone_number_sid": call.phone_number_sid,
        "status": call.state,
        "call_status": call.call_status,
        "ended_by": call.ended_by,
        "error": call.error,
        "duration": call.duration_s,
        "date_created": call.date_created.isoformat(),
        "end_time": None if call.end_time is None else call.end_time.isoformat(),
        "status_callback": call.status_callback or None,
        "gather": gather if call.state == "at_gather" else None,
        "said": [v["text"] for v in call.transcript if v["verb"] == "say"],
        "transcript": call.transcript,
        "webhooks": [w.to_json() for w in records if w.kind != STATUS_CALLBACK],
        "callbacks": [w.to_json() for w in records if w.kind == STATUS_CALLBACK],
    }
