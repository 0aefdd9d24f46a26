"""Playing a phone call as Twilio: the voice app's TwiML played turn by turn (Say, Gather and
the caller's answer, a hold's Pause and Redirect, Say and Hangup), every request signed with
Twilio's parameters, the silent fallthrough, the caller hanging up, the status callback."""

import re

import pytest

CUSTOMER = "+14155550199"
TENANT = "+14155550100"


def place(sandbox, **fields):
    placed = sandbox.post("/sandbox/twilio/calls", json={"from": CUSTOMER, "to": TENANT, **fields})
    assert placed.status_code == 201, placed.text
    return placed.json()


def wait(sandbox, sid, state):
    call = sandbox.get(
        f"/sandbox/twilio/calls/{sid}", params={"wait_for": state, "timeout": 10}
    ).json()
    assert call["status"] == state, call
    return call


def test_a_call_plays_the_apps_turns_in_order(sandbox, account, voice, voice_number):
    placed = place(sandbox)
    sid = placed["sid"]
    assert re.fullmatch("CA[0-9a-f]{32}", sid)
    assert placed["status"] == "ringing"

    at_gather = wait(sandbox, sid, "at_gather")
    assert at_gather["said"] == ["Hi, this is Acme. How can I help?"]
    assert at_gather["gather"]["action"] == f"{voice.url}/voice/gather?turn=1"
    answered = sandbox.post(
        f"/sandbox/twilio/calls/{sid}/input",
        json={"speech": "Where is my order?", "confidence": 0.87},
    )
    assert answered.status_code == 202
    assert answered.json()["status"] == "in-progress"
    call = wait(sandbox, sid, "completed")

    assert [v["verb"] for v in call["transcript"]] == [
        "gather",
        "say",
        "pause",
        "redirect",
        "say",
        "hangup",
    ]
    gather, greeting, pause, redirect, reply, _ = call["transcript"]
    assert gather == {
        "verb": "gather",
        "input": "speech dtmf",
        "action": f"{voice.url}/voice/gather?turn=1",
        "method": "POST",
        "timeout": 30,
        "speechTimeout": "auto",
        "caller": {"speech": "Where is my order?", "confidence": 0.87},
    }
    assert greeting == {
        "verb": "say",
        "text": "Hi, this is Acme. How can I help?",
        "within": "gather",
    }
    assert pause == {"verb": "pause", "length": 1}
    assert redirect == {
        "verb": "redirect",
        "method": "POST",
        "url": f"{voice.url}/voice/wait?answers={sid}:1&hold=1",
    }
    assert reply["text"] == "You said: Where is my order?. Your order ships tomorrow. Goodbye."
    assert (call["ended_by"], call["call_status"], call["error"]) == ("hangup", "completed", None)
    assert [(w["kind"], w["response"]["status"]) for w in call["webhooks"]] == [
        ("incoming-call", 200),
        ("gather-action", 200),
        ("redirect", 200),
    ]
    assert call["webhooks"][0]["response"]["body"].startswith("<?xml")
    assert [c["response"]["status"] for c in call["callbacks"]] == [204]
    assert all(h.signed for h in voice.heard)
    assert [h.path for h in voice.heard] == [
        "/voice",
        "/voice/gather",
        "/voice/wait",
        "/voice/status",
    ]


def test_twilios_parameters_reach_each_request(sandbox, account, voice, voice_number):
    sid = place(sandbox)["sid"]
    wait(sandbox, sid, "at_gather")
    sandbox.post(f"/sandbox/twilio/calls/{sid}/input", json={"speech": "Cancel it"})
    wait(sandbox, sid, "completed")

    incoming = voice.at("/voice")[0].form
    assert incoming == {
        "AccountSid": account.sid,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": "ringing",
        "Called": TENANT,
        "CalledCity": "",
        "CalledCountry": "US",
        "CalledState": "",
        "CalledZip": "",
        "Caller": CUSTOMER,
        "CallerCity": "",
        "CallerCountry": "US",
        "CallerState": "",
        "CallerZip": "",
        "Direction": "inbound",
        "From": CUSTOMER,
        "FromCity": "",
        "FromCountry": "US",
        "FromState": "",
        "FromZip": "",
        "To": TENANT,
        "ToCity": "",
        "ToCountry": "US",
        "ToState": "",
        "ToZip": "",
    }
    gathered = voice.at("/voice/gather")[0]
    assert gathered.query == {"turn": "1"}
    assert gathered.form["CallStatus"] == "in-progress"
    assert (gathered.form["SpeechResult"], gathered.form["Confidence"]) == ("Cancel it", "0.9")
    assert "Digits" not in gathered.form
    status = voice.at("/voice/status")[0].form
    assert status["CallStatus"] == "completed"
    assert status["CallbackSource"] == "call-progress-events"
    assert status["SequenceNumber"] == "0"
    assert int(status["CallDuration"]) >= 0
    assert status["Duration"] == "1"
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]0000", status["Timestamp"])
    assert {k: status[k] for k in ("CallSid", "AccountSid", "From", "To")} == {
        "CallSid": sid,
        "AccountSid": account.sid,
        "From": CUSTOMER,
        "To": TENANT,
    }


def test_silence_falls_through_to_the_redirect_after_the_gather(sandbox, voice, voice_number):
    voice.gather_timeout = 1
    sid = place(sandbox)["sid"]

    call = wait(sandbox, sid, "completed")  # a 1 s timeout, played in 0.1 s

    assert call["transcript"][0]["timed_out"] is True
    assert call["transcript"][0]["caller"] is None
    assert [v["verb"] for v in call["transcript"]] == ["gather", "say", "redirect", "say", "hangup"]
    assert call["said"][-1] == "We did not hear you. Goodbye."
    fallthrough = voice.at("/voice/gather")[0]
    assert fallthrough.query == {"turn": "1", "silent": "1"}
    assert "SpeechResult" not in fallthrough.form
    assert "Digits" not in fallthrough.form


def test_an_empty_input_is_silence_now(sandbox, voice, voice_number):
    sid = place(sandbox)["sid"]
    wait(sandbox, sid, "at_gather")

    assert sandbox.post(f"/sandbox/twilio/calls/{sid}/input", json={}).status_code == 202

    call = wait(sandbox, sid, "completed")
    assert call["transcript"][0]["timed_out"] is True
    assert voice.at("/voice/gather")[0].query["silent"] == "1"


def test_digits_stop_at_finish_on_key(sandbox, voice, voice_number):
    sid = place(sandbox)["sid"]
    wait(sandbox, sid, "at_gather")

    sandbox.post(f"/sandbox/twilio/calls/{sid}/input", json={"digits": "12#3"})

    call = wait(sandbox, sid, "completed")
    form = voice.at("/voice/gather")[0].form
    assert form["Digits"] == "12"
    assert "SpeechResult" not in form
    assert call["transcript"][0]["caller"] == {"digits": "12"}


def test_input_is_refused_when_no_gather_is_in_progress(sandbox, voice, voice_number):
    voice.answers["/voice/gather"] = voice.reply  # answer at once: no hold
    sid = place(sandbox)["sid"]
    wait(sandbox, sid, "at_gather")
    sandbox.post(f"/sandbox/twilio/calls/{sid}/input", json={"speech": "hello"})
    wait(sandbox, sid, "completed")

    again = sandbox.post(f"/sandbox/twilio/calls/{sid}/input", json={"speech": "hello?"})
    assert again.status_code == 409
    assert sandbox.post(f"/sandbox/twilio/calls/CA{'0' * 32}/input", json={}).status_code == 404
    both = sandbox.post(f"/sandbox/twilio/calls/{sid}/input", json={"speech": "a", "digits": "1"})
    assert both.status_code == 422


def test_the_caller_hangs_up_at_the_gather(sandbox, voice, voice_number):
    sid = place(sandbox)["sid"]
    wait(sandbox, sid, "at_gather")

    hung_up = sandbox.post(f"/sandbox/twilio/calls/{sid}/hangup")
    assert hung_up.status_code == 202

    call = wait(sandbox, sid, "completed")
    assert call["ended_by"] == "caller"
    assert [h.path for h in voice.heard] == ["/voice", "/voice/status"]
    assert voice.at("/voice/status")[0].signed
    assert voice.at("/voice/status")[0].form["CallStatus"] == "completed"
    assert sandbox.post(f"/sandbox/twilio/calls/{sid}/hangup").status_code == 409


def test_the_call_status_callback_of_the_request_wins(sandbox, voice, voice_number):
    voice.answers["/elsewhere"] = lambda heard: voice.answers["/voice/status"](heard)
    sid = place(sandbox, status_callback=f"{voice.url}/elsewhere")["sid"]
    wait(sandbox, sid, "at_gather")
    sandbox.post(f"/sandbox/twilio/calls/{sid}/hangup")

    call = wait(sandbox, sid, "completed")

    assert call["status_callback"] == f"{voice.url}/elsewhere"
    assert voice.at("/voice/status") == []
    assert voice.at("/elsewhere")[0].form["CallStatus"] == "completed"


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"to": "+14155550111"}, 404),  # nobody's number
        ({"from": "Ada"}, 422),
        ({"status_callback": "ftp://example.com"}, 422),
    ],
)
def test_a_call_is_refused(sandbox, voice_number, fields, status):
    placed = sandbox.post("/sandbox/twilio/calls", json={"from": CUSTOMER, "to": TENANT, **fields})

    assert placed.status_code == status, placed.text
    assert sandbox.get("/sandbox/twilio/calls").json() == {"calls": []}


def test_a_number_without_voice_url_takes_no_call(sandbox, number):
    placed = sandbox.post("/sandbox/twilio/calls", json={"from": CUSTOMER, "to": TENANT})

    assert placed.status_code == 409
    assert "VoiceUrl" in placed.json()["detail"]


def test_calls_are_listed_and_forgotten_by_a_reset(sandbox, voice, voice_number):
    first = place(sandbox)["sid"]
    wait(sandbox, first, "at_gather")

    listed = sandbox.get("/sandbox/twilio/calls", params={"status": "at_gather"}).json()
    assert [c["sid"] for c in listed["calls"]] == [first]
    hooks = sandbox.get("/sandbox/twilio/webhooks", params={"call_sid": first}).json()
    assert [w["kind"] for w in hooks["webhooks"]] == ["incoming-call"]
    assert 'connectflo_sandbox_twilio_calls{state="at_gather"} 1' in sandbox.get("/metrics").text

    assert sandbox.delete("/sandbox/twilio").status_code == 200

    assert sandbox.get("/sandbox/twilio/calls").json() == {"calls": []}
    assert sandbox.get(f"/sandbox/twilio/calls/{first}").status_code == 404
    assert voice.at("/voice/status") == []  # a forgotten call sends no callback
