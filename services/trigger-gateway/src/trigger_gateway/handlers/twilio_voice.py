"""Twilio's Voice webhooks: a phone call, answered with the TwiML its execution decides.

Twilio posts a request and waits (at most 15 s) for TwiML; the execution that decides the
answer runs asynchronously in the executor. So each caller input is published as a trigger
and its request waits here for the CallTurn that answers it (adapters/call_turns.py), up to
``GATEWAY_VOICE_TURN_SECONDS``; past that the caller hears a short pause and Twilio asks again
(`<Redirect>` to `/wait`), up to ``GATEWAY_VOICE_HOLDS`` times, then an apology and a hang-up.
Every request is verified like the messaging webhooks (handlers/twilio.py): 403, nothing
published, when the signature is not Twilio's for the tenant's auth token.

- `POST /webhooks/twilio/voice`: a call comes in. An Incoming Call trigger (channel `voice`;
  the call is its own conversation), input `<CallSid>:0`.
- `POST /webhooks/twilio/voice/gather?turn=n`: what the caller said (`SpeechResult`) or keyed
  (`Digits`) after a `<Gather>`: an Incoming Message on the call's conversation, input
  `<CallSid>:n`; with `silent=1` the caller said nothing (`timedOut`).
- `POST /webhooks/twilio/voice/wait?answers=...&hold=k`: asking again after a hold.
- `POST /webhooks/twilio/voice/status`: the call's status callback; when it ended, the
  conversation is closed and its runs are cancelled. 204."""

from __future__ import annotations

from typing import Annotated, Any

from contracts import topics
from contracts.envelope import Envelope
from contracts.events import ExecutionCancelRequested, InboundMessage
from fastapi import APIRouter, Query, Request, Response, status

from trigger_gateway.adapters.call_turns import CallTurns
from trigger_gateway.adapters.channels import PhoneNumber, TwilioAccount
from trigger_gateway.domain import twiml
from trigger_gateway.domain.channels import plain_address
from trigger_gateway.domain.conversation_keys import conversation_id_for
from trigger_gateway.handlers.channels import CALL_STATUS_WEBHOOK, VOICE_WEBHOOK
from trigger_gateway.handlers.deps import Gateway, GatewayDep
from trigger_gateway.handlers.events import SOURCE, publish_trigger
from trigger_gateway.handlers.problems import ApiProblem
from trigger_gateway.handlers.twilio import (
    Signature,
    _form_body,
    _invalid,
    _responses,
    _same_account,
    verified_for_number,
)
from trigger_gateway.telemetry import current_trace

router = APIRouter(tags=["webhooks"])
GATHER_WEBHOOK = VOICE_WEBHOOK + "/gather"
WAIT_WEBHOOK = VOICE_WEBHOOK + "/wait"
CALL_REQUIRED = ("CallSid", "AccountSid", "From", "To")
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
TWIML = {
    "description": "TwiML: what the caller hears and does next",
    "content": {"text/xml": {"schema": {"type": "string"}}},
}
_ERRORS = (403, 404, 413, 415, 422, 503)


def _turns(request: Request) -> CallTurns:
    turns: CallTurns = request.app.state.call_turns
    return turns


def _twiml(text: str) -> Response:
    return Response(text, media_type="text/xml")


def _conversation(tenant_id: str, params: dict[str, str]) -> str:
    """A call is its own conversation: keyed by its caller, number and sid."""
    caller, number = plain_address(params["From"])[0], plain_address(params["To"])[0]
    return conversation_id_for(tenant_id, "voice", caller, f"{number}/{params['CallSid']}")


async def _call(
    gw: Gateway, request: Request, path: str, signature: str | None
) -> tuple[dict[str, str], PhoneNumber, TwilioAccount]:
    """The verified parameters of a call's request, and the number and account it is for."""
    params, number, account = await verified_for_number(gw, request, path, signature)
    if wrong := [n for n in CALL_REQUIRED if not params.get(n) or len(params[n]) > 64]:
        raise _invalid(wrong)
    _same_account(params, account)
    return params, number, account


async def _answer(gw: Gateway, turns: CallTurns, answers: str, future: Any, hold: int) -> Response:
    """The turn's TwiML when it comes in time; else a hold, then Twilio asks again."""
    turn = await turns.wait(answers, future, gw.settings.voice_turn_seconds)
    base = gw.settings.public_url.rstrip("/")
    if turn is not None:
        gather = f"{base}{GATHER_WEBHOOK}?turn={twiml.turn_number(answers) + 1}"
        return _twiml(twiml.render(turn.verbs, gather_url=gather))
    if hold >= gw.settings.voice_holds:
        return _twiml(twiml.apology())
    return _twiml(twiml.hold(f"{base}{WAIT_WEBHOOK}?answers={answers}&hold={hold + 1}"))


def _facts(params: dict[str, str], number_id: str, conversation_id: str) -> dict[str, Any]:
    caller, number = plain_address(params["From"])[0], plain_address(params["To"])[0]
    return {
        "from": caller,
        "to": number,
        "channel": "voice",
        "conversationId": conversation_id,
        "callSid": params["CallSid"],
        "callId": params["CallSid"],
        "accountSid": params["AccountSid"],
        "phoneNumberId": number_id,
        "provider": "twilio",
    }


@router.post(
    VOICE_WEBHOOK,
    response_class=Response,
    responses=_responses(200, TWIML, *_ERRORS),
    openapi_extra=_form_body(CALL_REQUIRED, {"CallStatus": {}, "Direction": {}}),
)
async def on_call(request: Request, gw: GatewayDep, signature: Signature = None) -> Response:
    """A call comes in (a number's "A call comes in" webhook): an Incoming Call trigger, and
    the TwiML of the execution that answers it."""
    params, number, account = await _call(gw, request, VOICE_WEBHOOK, signature)
    conversation_id = _conversation(account.tenant_id, params)
    answers = f"{params['CallSid']}:0"
    turns = _turns(request)
    future = turns.expect(answers)  # before the trigger: the answer may come back at once
    payload = {
        **_facts(params, number.number_id, conversation_id),
        "callTurn": answers,
        "callStatus": params.get("CallStatus"),
        "direction": params.get("Direction"),
    }
    await publish_trigger(
        gw,
        account.tenant_id,
        "Incoming Call",
        event_id=f"call:{answers}",
        conversation_id=conversation_id,
        channel="voice",
        payload=payload,
        customer={"phone": payload["from"]},
        message=InboundMessage(
            contact_address=payload["from"],
            tenant_address=payload["to"],
            provider="twilio",
            provider_message_id=answers,
        ),
    )
    return await _answer(gw, turns, answers, future, hold=0)


@router.post(
    GATHER_WEBHOOK,
    response_class=Response,
    responses=_responses(200, TWIML, *_ERRORS),
    openapi_extra=_form_body(
        CALL_REQUIRED,
        {"SpeechResult": {}, "Digits": {"pattern": "^[0-9*#]{0,64}$"}, "Confidence": {}},
    ),
)
async def on_gathered(
    request: Request,
    gw: GatewayDep,
    turn: Annotated[int, Query(ge=1, le=10_000, description="The caller's input number.")],
    silent: Annotated[int, Query(ge=0, le=1, description="1: the caller said nothing.")] = 0,
    signature: Signature = None,
) -> Response:
    """The caller's answer to a `<Gather>`: an Incoming Message on the call's conversation
    (the waiting execution's reply), and the TwiML of what comes next."""
    params, number, account = await _call(gw, request, GATHER_WEBHOOK, signature)
    conversation_id = _conversation(account.tenant_id, params)
    answers = f"{params['CallSid']}:{turn}"
    text = params.get("SpeechResult") or params.get("Digits") or ""
    turns = _turns(request)
    future = turns.expect(answers)
    payload: dict[str, Any] = {
        **_facts(params, number.number_id, conversation_id),
        "text": text,
        "digits": params.get("Digits"),
        "confidence": params.get("Confidence"),
        "callTurn": answers,
    }
    if silent or not text:
        payload["timedOut"] = True  # Wait for Reply takes its timeout port
    await publish_trigger(
        gw,
        account.tenant_id,
        "Incoming Message",
        event_id=f"call:{answers}",
        conversation_id=conversation_id,
        channel="voice",
        payload=payload,
        customer={"phone": payload["from"]},
        message=InboundMessage(
            contact_address=payload["from"],
            tenant_address=payload["to"],
            body=text,
            provider="twilio",
            provider_message_id=answers,
        ),
    )
    return await _answer(gw, turns, answers, future, hold=0)


@router.post(
    WAIT_WEBHOOK,
    response_class=Response,
    responses=_responses(200, TWIML, *_ERRORS),
    openapi_extra=_form_body(CALL_REQUIRED, {}),
)
async def on_hold(
    request: Request,
    gw: GatewayDep,
    answers: Annotated[str, Query(pattern=r"^CA[0-9a-fA-F]{32}:[0-9]{1,5}$")],
    hold: Annotated[int, Query(ge=1, le=100)] = 1,
    signature: Signature = None,
) -> Response:
    """Twilio asking again after a hold: the turn if it has come, else another hold."""
    params, _, _ = await _call(gw, request, WAIT_WEBHOOK, signature)
    if not answers.startswith(params["CallSid"] + ":"):
        raise ApiProblem(status.HTTP_403_FORBIDDEN, f"{answers} is not a turn of this call")
    turns = _turns(request)
    return await _answer(gw, turns, answers, turns.expect(answers), hold=hold)


@router.post(
    CALL_STATUS_WEBHOOK,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_responses(204, {"description": "Taken"}, *_ERRORS),
    openapi_extra=_form_body((*CALL_REQUIRED, "CallStatus"), {}),
)
async def on_call_status(request: Request, gw: GatewayDep, signature: Signature = None) -> Response:
    """A call's status callback: a call that ended closes its conversation and cancels the
    runs still going on it (nobody is there to hear them)."""
    params, _, account = await _call(gw, request, CALL_STATUS_WEBHOOK, signature)
    if params.get("CallStatus") not in ENDED:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    conversation_id = _conversation(account.tenant_id, params)
    doc = await gw.conversations.update(
        account.tenant_id,
        conversation_id,
        {"status": "closed", "closed_reason": f"call {params['CallStatus']}"},
        {},
        add_tags=[],
        remove_tags=[],
    )
    for run in ((doc or {}).get("active_runs") or {}).values():
        cancel = ExecutionCancelRequested(
            command_id=f"call-ended:{params['CallSid']}:{run}",
            execution_id=run,
            tenant_id=account.tenant_id,
            reason=f"the call ended ({params['CallStatus']})",
        )
        envelope = Envelope.wrap(
            cancel, source=SOURCE, tenant_id=account.tenant_id, **current_trace()
        )
        await gw.broker.publish(
            envelope.body(), topics.EXECUTION_COMMANDS, run.encode(), envelope.headers()
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
