"""A call's turn as TwiML, built with the twilio SDK's ``VoiceResponse``. Pure: no I/O.

The executor decides verbs (say, gather, enqueue, dial, hangup); here they become Twilio's:
what is said before a `<Gather>` is said inside it (the caller may answer while it speaks),
and after the `<Gather>` a `<Redirect>` to the same action with ``silent=1`` reports that the
caller said nothing. The caller's next input is the turn after this one: ``turn=n+1``."""

from __future__ import annotations

from typing import Any

from twilio.twiml.voice_response import (  # type: ignore[import-untyped, unused-ignore]
    Gather,
    VoiceResponse,
)

Verb = dict[str, Any]
HOLD_SECONDS = 1
SORRY = "Sorry, we cannot take your call right now. Please try again later."


def turn_number(answers: str) -> int:
    """``<CallSid>:<n>`` -> n."""
    return int(answers.rpartition(":")[2])


def render(verbs: list[Verb], *, gather_url: str) -> str:
    """``gather_url``: where the caller's answer goes (with its turn number in the query)."""
    response = VoiceResponse()
    said: list[str] = []

    def say_now() -> None:
        for text in said:
            response.say(text)
        said.clear()

    for verb in verbs:
        if "say" in verb:
            said.append(str(verb["say"].get("text", "")))
        elif "gather" in verb:
            gather = Gather(
                input="speech dtmf",
                action=gather_url,
                method="POST",
                timeout=int(verb["gather"].get("timeout_seconds") or 5),
                speech_timeout="auto",
            )
            for text in said:
                gather.say(text)
            said.clear()
            response.append(gather)
            response.redirect(gather_url + "&silent=1", method="POST")
        else:
            say_now()
            if "enqueue" in verb:
                response.enqueue(str(verb["enqueue"].get("queue") or "support"))
            elif "dial" in verb:
                response.dial(str(verb["dial"].get("number")))
            elif "hangup" in verb:
                response.hangup()
    say_now()
    return str(response)


def hold(wait_url: str) -> str:
    """The caller waits a moment and asks again: the turn is still being decided."""
    response = VoiceResponse()
    response.pause(length=HOLD_SECONDS)
    response.redirect(wait_url, method="POST")
    return str(response)


def apology() -> str:
    response = VoiceResponse()
    response.say(SORRY)
    response.hangup()
    return str(response)
