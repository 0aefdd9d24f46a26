"""Accounts, credentials and the rate limit, through the official twilio SDK."""

import re

import pytest
from provider_sandbox.settings import SandboxSettings, parse_accounts
from twilio.base.exceptions import TwilioException, TwilioRestException

SEEDED_SID = "AC" + "5eed" * 8


def test_an_account_is_minted_and_the_same_sid_answers_the_same_account(sandbox):
    minted = sandbox.post("/sandbox/twilio/accounts", json={})
    assert minted.status_code == 201
    sid, token = minted.json()["account_sid"], minted.json()["auth_token"]
    assert re.fullmatch("AC[0-9a-f]{32}", sid)
    assert re.fullmatch("[0-9a-f]{32}", token)

    again = sandbox.post("/sandbox/twilio/accounts", json={"account_sid": sid})
    assert again.status_code == 200
    assert again.json()["auth_token"] == token


def test_a_chosen_sid_and_token_authenticate_the_sdk(sandbox, client_for):
    sid, token = "AC" + "ab" * 16, "chosen-token"
    sandbox.post("/sandbox/twilio/accounts", json={"account_sid": sid, "auth_token": token})

    fetched = client_for(sid, token).api.v2010.accounts(sid).fetch()

    assert fetched.sid == sid
    assert fetched.status == "active"


def test_a_wrong_token_is_401_with_code_20003(account, client_for):
    client = client_for(account.sid, "not-the-token")

    with pytest.raises(TwilioRestException) as refused:
        client.api.v2010.accounts(account.sid).fetch()

    assert (refused.value.status, refused.value.code) == (401, 20003)


def test_no_credentials_is_401_with_twilios_error_body(sandbox, account):
    answer = sandbox.get(f"/2010-04-01/Accounts/{account.sid}/Messages.json")

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Basic realm="Twilio API"'
    assert answer.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
        "detail": "Your AccountSid or AuthToken was incorrect.",
    }


def test_another_accounts_path_is_403(sandbox, account, client_for):
    other = sandbox.post("/sandbox/twilio/accounts", json={}).json()["account_sid"]
    client = client_for(account.sid, account.token, account_sid=other)

    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to="+14155550199", from_="+14155550100", body="hi")

    assert (refused.value.status, refused.value.code) == (403, 20003)


def test_an_api_key_made_with_the_sdk_sends_for_its_account(twilio, account, client_for):
    key = twilio.api.v2010.account.new_keys.create(friendly_name="notifier")
    assert key.sid.startswith("SK")
    twilio.incoming_phone_numbers.create(phone_number="+14155550100")

    with_key = client_for(key.sid, key.secret, account_sid=account.sid)
    sent = with_key.messages.create(to="+14155550199", from_="+14155550100", body="hi")

    assert sent.account_sid == account.sid


def test_beyond_the_accounts_rate_the_api_answers_429_with_retry_after(sandbox, account, twilio):
    sandbox.post("/sandbox/twilio/accounts", json={"account_sid": account.sid, "rps": 2})
    path = f"/2010-04-01/Accounts/{account.sid}/Messages.json"
    auth = (account.sid, account.token)

    answers = [sandbox.get(path, auth=auth) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["retry-after"] == "1"
    assert answers[2].json()["code"] == 20429
    with pytest.raises(TwilioRestException) as limited:
        twilio.messages.create(to="+14155550199", from_="+14155550100", body="hi")
    assert (limited.value.status, limited.value.code) == (429, 20429)


def test_the_rate_is_per_account(sandbox, account):
    sandbox.post("/sandbox/twilio/accounts", json={"account_sid": account.sid, "rps": 1})
    other = sandbox.post("/sandbox/twilio/accounts", json={}).json()
    own = f"/2010-04-01/Accounts/{account.sid}/Messages.json"
    theirs = f"/2010-04-01/Accounts/{other['account_sid']}/Messages.json"

    assert sandbox.get(own, auth=(account.sid, account.token)).status_code == 200
    assert sandbox.get(own, auth=(account.sid, account.token)).status_code == 429
    assert sandbox.get(theirs, auth=(other["account_sid"], other["auth_token"])).status_code == 200


def test_a_reset_keeps_the_seeded_accounts_only(sandbox, account, client_for):
    reset = sandbox.delete("/sandbox/twilio")

    assert reset.json()["accounts"] == [SEEDED_SID]
    assert client_for(SEEDED_SID, "seeded-auth-token").api.v2010.accounts(SEEDED_SID).fetch()
    with pytest.raises(TwilioRestException):
        client_for(account.sid, account.token).api.v2010.accounts(account.sid).fetch()


def test_an_unknown_twilio_path_is_20404(sandbox, account):
    answer = sandbox.get(
        f"/2010-04-01/Accounts/{account.sid}/Nothing.json", auth=(account.sid, account.token)
    )

    assert answer.status_code == 404
    assert answer.json()["code"] == 20404


def test_accounts_are_seeded_from_the_environment():
    settings = SandboxSettings.from_env(
        {"SANDBOX_TWILIO_ACCOUNTS": f"{SEEDED_SID}:one, AC{'1' * 32}:two", "SANDBOX_PORT": "9"}
    )

    assert settings.twilio_accounts == ((SEEDED_SID, "one"), ("AC" + "1" * 32, "two"))
    assert settings.port == 9


def test_a_malformed_seed_is_refused_with_its_sid():
    with pytest.raises(ValueError, match="'AC123'"):
        parse_accounts("AC123:token")


def test_health_and_readiness_answer_200(sandbox):
    assert sandbox.get("/healthz").json() == {"status": "ok"}
    assert sandbox.get("/readyz").status_code == 200
    assert "connectflo_sandbox_twilio_messages" in sandbox.get("/metrics").text


def test_page_errors_reach_the_sdk_as_twilio_exceptions(account, client_for):
    # Listing with bad credentials: the SDK's pages raise TwilioException (not Rest), as with Twilio
    with pytest.raises(TwilioException):
        client_for(account.sid, "wrong").messages.list()


def test_the_control_api_refuses_a_malformed_sid(sandbox):
    answer = sandbox.post("/sandbox/twilio/accounts", json={"account_sid": "AC1"})

    assert answer.status_code == 422
