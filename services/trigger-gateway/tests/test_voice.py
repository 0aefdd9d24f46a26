"""A call's turns: the TwiML a turn becomes, and the waiter that hands a CallTurn from the
calls topic to the Twilio request holding for it (the routes run end to end in
tests-e2e/test_voice.py, against the provider sandbox playing Twilio)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from contracts import Envelope
from contracts.events import CallTurn
from servicekit.delivery import Consumed
from trigger_gateway.adapters.call_turns import CallTurns
from trigger_gateway.domain import twiml

GATHER = "https://gw.example/webhooks/twilio/voice/gather?turn=1"


def turn(answers: str, *verbs: dict) -> CallTurn:
    return CallTurn(
        tenant_id="ten_1",
        call_sid=answers.split(":")[0],
        answers=answers,
        verbs=list(verbs),
        execution_id="exe_1",
        decided_at=datetime.now(UTC),
    )


def record(event: CallTurn) -> Consumed:
    envelope = Envelope.wrap(event, source="/test", tenant_id="ten_1")
    return Consumed(
        topic="connectflo.calls.v1",
        partition=0,
        offset=0,
        key=event.call_sid.encode(),
        value=envelope.body(),
        headers=envelope.headers(),
    )


def test_what_is_said_before_a_gather_is_said_inside_it_and_silence_comes_back() -> None:
    text = twiml.render(
        [
            {"say": {"text": "Hello"}},
            {"say": {"text": "Your order?"}},
            {"gather": {"timeout_seconds": 7}},
        ],
        gather_url=GATHER,
    )
    assert text == (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Gather action="https://gw.example/webhooks/twilio/voice/gather?turn=1"'
        ' input="speech dtmf" method="POST" speechTimeout="auto" timeout="7">'
        "<Say>Hello</Say><Say>Your order?</Say>"
        "</Gather>"
        '<Redirect method="POST">https://gw.example/webhooks/twilio/voice/gather?turn=1&amp;silent=1'
        "</Redirect></Response>"
    )


def test_a_goodbye_hangs_up_and_a_handoff_enqueues() -> None:
    bye = twiml.render([{"say": {"text": "Bye"}}, {"hangup": {}}], gather_url=GATHER)
    assert bye.endswith("<Response><Say>Bye</Say><Hangup /></Response>")
    handoff = twiml.render([{"enqueue": {"queue": "billing"}}], gather_url=GATHER)
    assert handoff.endswith("<Response><Enqueue>billing</Enqueue></Response>")


def test_a_hold_pauses_and_asks_again() -> None:
    text = twiml.hold("https://gw.example/webhooks/twilio/voice/wait?answers=CA1:0&hold=1")
    assert '<Pause length="1" />' in text
    assert (
        '<Redirect method="POST">https://gw.example/webhooks/twilio/voice/wait?answers=CA1:0&amp;hold=1</Redirect>'
        in text
    )
    assert twiml.turn_number("CA123:4") == 4


async def test_the_waiter_gets_the_turn_it_registered_for() -> None:
    turns = CallTurns()
    future = turns.expect("CA1:0")
    waiting = asyncio.create_task(turns.wait("CA1:0", future, 2))
    await turns.on_records(
        [record(turn("CA9:0", {"hangup": {}})), record(turn("CA1:0", {"hangup": {}}))]
    )
    got = await waiting
    assert got is not None and got.call_sid == "CA1"


async def test_a_turn_that_came_first_is_kept_for_the_request_that_asks_later() -> None:
    turns = CallTurns()
    await turns.on_records([record(turn("CA1:3", {"hangup": {}}))])
    got = await turns.wait("CA1:3", turns.expect("CA1:3"), 0.1)
    assert got is not None and got.answers == "CA1:3"


async def test_no_turn_in_time_is_none() -> None:
    turns = CallTurns()
    assert await turns.wait("CA1:0", turns.expect("CA1:0"), 0.05) is None
