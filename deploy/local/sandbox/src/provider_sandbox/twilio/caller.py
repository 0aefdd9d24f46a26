"""Playing the caller: `POST /sandbox/twilio/calls` rings a registered number (Twilio requests its
VoiceUrl and plays the answer in the background), `.../input` answers the `<Gather>` in progress,
`.../hangup` hangs up; `GET /sandbox/twilio/calls/{sid}?wait_for=...` waits for a state."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from .calls import CallerInput, call_record
from .outbound import is_phone_number, valid_callback_url
from .sids import mint
from .state import Call, TwilioState, bare_address
from .twiml_player import CallPlayer, VoiceTarget
from .webhooks import Signing

CALL = "CA"
CallState = Literal["ringing", "in-progress", "at_gather", "completed", "failed", "ended"]


class CallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", description="the caller, E.164")
    to: str = Field(description="a registered IncomingPhoneNumber with a VoiceUrl")
    status_callback: str | None = Field(
        default=None, description="instead of the number's StatusCallback"
    )
    status_callback_method: Literal["GET", "POST"] | None = None
    signature: Signing = Field(
        default="valid", description="every request of the call: valid, none or wrong"
    )


class InputRequest(BaseModel):
    """Speech or keys; neither: the caller stays silent (the `<Gather>` times out now)."""

    model_config = ConfigDict(extra="forbid")

    speech: str | None = Field(default=None, min_length=1, max_length=2000)
    digits: str | None = Field(default=None, pattern=r"^[0-9*#w]{1,64}$")
    confidence: float | None = Field(default=None, ge=0, le=1)


def caller_router(state: TwilioState, player: CallPlayer) -> APIRouter:
    router = APIRouter(prefix="/sandbox/twilio/calls", tags=["sandbox"])

    def record(call: Call) -> dict[str, Any]:
        return call_record(call, state.webhooks)

    def found(sid: str) -> Call:
        call = state.calls.get(sid)
        if call is None:
            raise HTTPException(404, f"no call {sid}")
        return call

    @router.post("", status_code=201)
    async def place_call(request: CallRequest) -> dict[str, Any]:
        """The caller dials `to`: 201 at once with the call (ringing); it plays on its own."""
        caller = bare_address(request.from_)
        if not is_phone_number(caller):
            raise HTTPException(422, f"from {request.from_!r} is not an E.164 number")
        number = state.number_for(request.to)
        if number is None:
            raise HTTPException(404, f"no account has the IncomingPhoneNumber {request.to}")
        if not number.voice_url:
            raise HTTPException(409, f"the number {number.phone_number} has no VoiceUrl")
        callback = request.status_callback or number.status_callback
        if callback and not valid_callback_url(callback):
            raise HTTPException(422, f"status_callback {callback!r} is not an http(s) URL")
        call = Call(
            sid=mint(CALL),
            account_sid=number.account_sid,
            from_=caller,
            to=number.phone_number,
            phone_number_sid=number.sid,
            status_callback=callback,
            status_callback_method=(
                request.status_callback_method or number.status_callback_method or "POST"
            ).upper(),
        )
        state.calls[call.sid] = call
        target = VoiceTarget(
            number.voice_url,
            number.voice_method,
            number.voice_fallback_url,
            number.voice_fallback_method,
        )
        player.start(call, target, request.signature)
        return record(call)

    @router.get("")
    async def calls(
        account_sid: str | None = None,
        to: str | None = None,
        from_: Annotated[str | None, Query(alias="from")] = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """Every call, oldest first."""
        wanted = {"account_sid": account_sid, "to": to, "from_": from_, "state": status}
        return {
            "calls": [
                record(c)
                for c in state.calls.values()
                if all(v is None or getattr(c, k) == v for k, v in wanted.items())
            ]
        }

    @router.get("/{sid}")
    async def call(
        sid: str,
        wait_for: Annotated[CallState | None, Query(description="wait until this state")] = None,
        timeout: Annotated[float, Query(ge=0, le=120, description="seconds")] = 5.0,
    ) -> dict[str, Any]:
        """The call; with `wait_for`, once it is in that state (`completed`, `failed` and
        `ended`: once it has ended and its status callback was answered), once it has ended
        in another, or after `timeout` seconds: the `status` says which."""
        found(sid)
        if wait_for is not None:
            await player.wait_for(sid, wait_for, timeout)
        return record(found(sid))

    @router.post("/{sid}/input", status_code=202)
    async def answer(sid: str, request: InputRequest) -> dict[str, Any]:
        """The caller answers the `<Gather>` in progress (409 if none): Twilio requests its
        action with SpeechResult and Confidence, or Digits."""
        if request.speech is not None and request.digits is not None:
            raise HTTPException(422, "speech or digits, not both")
        player.answer(
            found(sid).sid,
            CallerInput(request.speech, request.digits, request.confidence),
        )
        return record(found(sid))

    @router.post("/{sid}/hangup", status_code=202)
    async def hang_up(sid: str) -> dict[str, Any]:
        """The caller hangs up (409 if the call has ended): the call is completed and its
        status callback sent."""
        player.hang_up(found(sid).sid)
        return record(found(sid))

    return router
