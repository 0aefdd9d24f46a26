"""How the sandbox plays what a voice app answers, as Twilio would: an error or a body that is
not TwiML ends the call with Twilio's apology (after the VoiceFallbackUrl, when there is one),
text/plain is said, Enqueue and Dial hand the call over, GET puts the parameters in the query,
forged signatures are refused by the app; the Call resource through the official SDK."""

import time

import httpx
import pytest
from fastapi import Response
from provider_sandbox.app import create_app
from provider_sandbox.settings import SandboxSettings
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

CUSTOMER = "+14155550199"
TENANT = "+14155550100"
APOLOGY = "We are sorry, an application error has occurred. Goodbye."


def place(sandbox, **fields):
    placed = sandbox.post("/sandbox/twilio/calls", json={"from": CUSTOMER, "to": TENANT, **fields})
    assert placed.status_code == 201, placed.text
    return placed.json()["sid"]


def wait(sandbox, sid, state):
    return sandbox.get(
        f"/sandbox/twilio/calls/{sid}", params={"wait_for": state, "timeout": 10}
    ).json()


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (Response("boom", status_code=500), 11200),
        (Response("<Response><Say>unclosed", media_type="text/xml"), 12100),
        (Response("<Message>hi</Message>", media_type="text/xml"), 12100),
        (Response('{"say": "hi"}', media_type="application/json"), 12300),
    ],
)
def test_an_answer_twilio_cannot_play_ends_the_call(sandbox, voice, voice_number, answer, code):
    voice.answers["/voice"] = lambda heard: answer
    sid = place(sandbox)

    call = wait(sandbox, sid, "failed")

    assert call["status"] == "failed"
    assert (call["error"]["code"], call["error"]["url"]) == (code, f"{voice.url}/voice")
    assert call["ended_by"] == "application-error"
    assert call["said"] == [APOLOGY]
    assert call["call_status"] == "completed"  # the caller was answered, and heard the apology
    assert voice.at("/voice/status")[0].form["CallStatus"] == "completed"


def test_an_unreachable_voice_url_is_a_connection_failure(sandbox, twilio, voice):
    twilio.incoming_phone_numbers.create(
        phone_number=TENANT,
        voice_url="http://127.0.0.1:9/voice",  # the discard port: nobody listens
        status_callback=f"{voice.url}/voice/status",
    )
    sid = place(sandbox)

    call = wait(sandbox, sid, "failed")

    assert call["error"]["code"] == 11205
    assert call["webhooks"][0]["response"] is None
    assert call["webhooks"][0]["error"]


def test_the_voice_fallback_url_answers_when_the_voice_url_fails(sandbox, twilio, voice):
    voice.answers["/voice"] = lambda heard: Response(status_code=503)

    def fallback(heard):
        response = VoiceResponse()
        response.say("Our line is busy, please call later.")
        return Response(str(response), media_type="text/xml")

    voice.answers["/fallback"] = fallback
    twilio.incoming_phone_numbers.create(
        phone_number=TENANT,
        voice_url=f"{voice.url}/voice",
        voice_fallback_url=f"{voice.url}/fallback",
    )
    sid = place(sandbox)

    call = wait(sandbox, sid, "completed")

    assert call["said"] == ["Our line is busy, please call later."]
    assert [w["kind"] for w in call["webhooks"]] == ["incoming-call", "incoming-call-fallback"]
    told = voice.at("/fallback")[0]
    assert told.signed
    assert (told.form["ErrorCode"], told.form["ErrorUrl"]) == ("11200", f"{voice.url}/voice")
    assert call["callbacks"] == []  # the number has no StatusCallback


def test_a_forged_signature_is_refused_by_the_app(sandbox, voice, voice_number):
    sid = place(sandbox, signature="wrong")

    call = wait(sandbox, sid, "failed")

    assert voice.at("/voice")[0].signed is False
    assert call["webhooks"][0]["response"]["status"] == 403
    assert call["error"]["code"] == 11200


def test_text_plain_is_said_and_the_call_ends(sandbox, voice, voice_number):
    voice.answers["/voice"] = lambda heard: Response("Thanks for calling.", media_type="text/plain")
    sid = place(sandbox)

    call = wait(sandbox, sid, "completed")

    assert call["transcript"] == [{"verb": "say", "text": "Thanks for calling."}]
    assert call["ended_by"] == "end-of-twiml"


@pytest.mark.parametrize("verb", ["enqueue", "dial"])
def test_enqueue_and_dial_hand_the_call_over(sandbox, voice, voice_number, verb):
    def hand_over(heard):
        response = VoiceResponse()
        response.say("Connecting you to an agent.")
        if verb == "enqueue":
            response.enqueue("support", wait_url="/hold-music")
        else:
            dial = Dial(timeout=20)
            dial.number("+14155550142")
            response.append(dial)
        response.say("never said")
        return Response(str(response), media_type="text/xml")

    voice.answers["/voice"] = hand_over
    sid = place(sandbox)

    call = wait(sandbox, sid, "completed")

    assert call["said"] == ["Connecting you to an agent."]
    assert call["ended_by"] == "handed-over"
    handed = call["transcript"][-1]
    if verb == "enqueue":
        assert handed == {"verb": "enqueue", "waitUrl": "/hold-music", "queue": "support"}
    else:
        assert handed["nouns"] == [{"noun": "number", "value": "+14155550142"}]
        assert handed["timeout"] == "20"
    assert voice.at("/voice/status")[0].form["CallStatus"] == "completed"


def test_a_get_voice_url_gets_the_parameters_in_its_query(sandbox, twilio, voice):
    voice.answers["/voice"] = lambda heard: Response(
        "<Response><Pause/><Say>Hello</Say></Response>", media_type="text/xml"
    )
    twilio.incoming_phone_numbers.create(
        phone_number=TENANT, voice_url=f"{voice.url}/voice?tenant=acme", voice_method="GET"
    )
    sid = place(sandbox)

    call = wait(sandbox, sid, "completed")

    heard = voice.at("/voice")[0]
    assert heard.signed
    assert heard.form == {}
    assert (heard.query["tenant"], heard.query["CallSid"]) == ("acme", sid)
    assert call["transcript"] == [{"verb": "pause", "length": 1}, {"verb": "say", "text": "Hello"}]


def test_a_hang_up_while_the_app_answers_plays_nothing_more(sandbox, voice, voice_number):
    def slow(heard):
        time.sleep(0.3)
        return voice.greet(heard)

    voice.answers["/voice"] = slow
    sid = place(sandbox)

    assert sandbox.post(f"/sandbox/twilio/calls/{sid}/hangup").status_code == 202

    call = wait(sandbox, sid, "completed")
    assert (call["ended_by"], call["transcript"]) == ("caller", [])
    assert call["webhooks"][0]["response"]["status"] == 200  # answered, never played
    assert voice.at("/voice/status")[0].form["CallStatus"] == "completed"


def test_action_on_empty_result_requests_the_action_without_input(sandbox, voice, voice_number):
    def greet(heard):
        response = VoiceResponse()
        gather = Gather(action="/voice/gather?turn=1", action_on_empty_result=True, timeout=30)
        gather.say("Press a key")
        response.append(gather)
        response.say("never said")
        return Response(str(response), media_type="text/xml")

    voice.answers["/voice"] = greet
    voice.answers["/voice/gather"] = voice.reply
    sid = place(sandbox)
    wait(sandbox, sid, "at_gather")
    spoken = sandbox.post(f"/sandbox/twilio/calls/{sid}/input", json={"speech": "hi"})
    assert spoken.status_code == 422  # Twilio's default input is dtmf: it hears no speech

    sandbox.post(f"/sandbox/twilio/calls/{sid}/input", json={})

    call = wait(sandbox, sid, "completed")
    action = voice.at("/voice/gather")[0]
    assert action.url == f"{voice.url}/voice/gather?turn=1"  # resolved against the document
    assert "Digits" not in action.form
    assert "SpeechResult" not in action.form
    assert call["said"][-1] == "You said: nothing. Your order ships tomorrow. Goodbye."
    refused = sandbox.post(f"/sandbox/twilio/calls/{sid}/input", json={"speech": "hi"})
    assert refused.status_code == 409


def test_the_call_resource_through_the_sdk(sandbox, twilio, voice, voice_number):
    sid = place(sandbox)
    wait(sandbox, sid, "at_gather")

    live = twilio.calls(sid).fetch()
    assert (live.status, live.direction, live.duration) == ("in-progress", "inbound", None)
    assert (live._from, live.to, live.phone_number_sid) == (CUSTOMER, TENANT, voice_number.sid)
    assert live.to_formatted == "(415) 555-0100"
    assert [c.sid for c in twilio.calls.list(to=TENANT)] == [sid]
    assert twilio.calls.list(status="completed") == []

    twilio.calls(sid).update(status="completed")  # the app hangs up through the REST API

    call = wait(sandbox, sid, "completed")
    assert call["ended_by"] == "api"
    ended = twilio.calls(sid).fetch()
    assert ended.status == "completed"
    assert ended.end_time is not None
    assert int(ended.duration) >= 0


def test_another_accounts_call_is_not_found(sandbox, voice, voice_number, client_for):
    sid = place(sandbox)
    other = sandbox.post("/sandbox/twilio/accounts", json={}).json()

    with pytest.raises(TwilioRestException) as raised:
        client_for(other["account_sid"], other["auth_token"]).calls(sid).fetch()

    assert (raised.value.status, raised.value.code) == (404, 20404)


async def test_a_call_plays_against_an_in_process_app():
    """A service's own tests: the sandbox's webhooks to an ASGI app, the sandbox in-process."""
    sid, token = "AC" + "ca" * 16, "in-process-token"
    requests: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        response = VoiceResponse()
        response.say("Hello from the app")
        response.hangup()
        return httpx.Response(200, text=str(response), headers={"content-type": "text/xml"})

    settings = SandboxSettings(twilio_accounts=((sid, token),))
    sandbox = create_app(settings, webhook_transport=httpx.MockTransport(app))
    async with (
        sandbox.router.lifespan_context(sandbox),
        httpx.AsyncClient(transport=httpx.ASGITransport(sandbox), base_url="http://sb") as http,
    ):
        await http.post(
            f"/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json",
            data={"PhoneNumber": TENANT, "VoiceUrl": "http://gateway.test/webhooks/twilio/voice"},
            auth=(sid, token),
        )
        placed = await http.post("/sandbox/twilio/calls", json={"from": CUSTOMER, "to": TENANT})
        call = (
            await http.get(
                f"/sandbox/twilio/calls/{placed.json()['sid']}", params={"wait_for": "completed"}
            )
        ).json()

    assert call["said"] == ["Hello from the app"]
    form = dict(httpx.QueryParams(requests[0].content.decode()))
    assert RequestValidator(token).validate(
        str(requests[0].url), form, requests[0].headers["x-twilio-signature"]
    )


def test_the_time_scales_come_from_the_environment():
    settings = SandboxSettings.from_env({"SANDBOX_TWILIO_PAUSE_SCALE": "0.5"})
    assert (settings.twilio_pause_scale, settings.gather_timeout_scale) == (0.5, 0.5)

    both = SandboxSettings.from_env(
        {"SANDBOX_TWILIO_PAUSE_SCALE": "0", "SANDBOX_TWILIO_GATHER_TIMEOUT_SCALE": "1"}
    )
    assert (both.twilio_pause_scale, both.gather_timeout_scale) == (0.0, 1.0)
    assert SandboxSettings.from_env({}).gather_timeout_scale == 0.1
