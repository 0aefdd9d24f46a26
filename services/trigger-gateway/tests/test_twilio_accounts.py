"""A tenant's Twilio account: validated, its auth token sealed and never answered, its numbers
its own (another tenant's number is 409), and nobody else's to read or change."""

from __future__ import annotations

import json

import pytest
from servicekit.sealing import Kek, Keyring
from trigger_gateway.domain.channels import TWILIO_AUTH_TOKEN, number_id_for

SID, TOKEN = "AC" + "0123456789abcdef" * 2, "00112233445566778899aabbccddeeff"
PATH = "/v1/channels/twilio"


def account(**changes: object) -> dict[str, object]:
    return {
        "account_sid": SID,
        "auth_token": TOKEN,
        "numbers": [
            {"phone_number": "+15017122661", "whatsapp": True, "name": "Support"},
            {"phone_number": "+442071838750"},
        ],
        **changes,
    }


def test_connecting_answers_the_numbers_ids_and_webhooks_but_never_the_token(gw) -> None:
    answer = gw.client.put(PATH, json=account(), headers=gw.as_tenant())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert TOKEN not in answer.text
    assert body["account_sid"] == SID and body["has_auth_token"] is True
    assert len(body["auth_token_fingerprint"]) == 8
    assert body["webhooks"] == {
        "messages": "http://gw.test/webhooks/twilio/messages",
        "status": "http://gw.test/webhooks/twilio/status",
        "voice": "http://gw.test/webhooks/twilio/voice",
        "voice_status": "http://gw.test/webhooks/twilio/voice/status",
    }
    assert body["numbers"] == [
        {
            "id": number_id_for("ten_a", "+15017122661"),
            "phone_number": "+15017122661",
            "whatsapp": True,
            "name": "Support",
        },
        {
            "id": number_id_for("ten_a", "+442071838750"),
            "phone_number": "+442071838750",
            "whatsapp": False,
            "name": None,
        },
    ]
    assert all(n["id"].startswith("pn_") for n in body["numbers"])
    fetched = gw.client.get(PATH, headers=gw.as_tenant())
    assert fetched.json() == body and TOKEN not in fetched.text


def test_the_token_is_stored_sealed_for_the_tenant(gw) -> None:
    gw.client.put(PATH, json=account(), headers=gw.as_tenant())
    stored = gw.twilio.accounts["ten_a"]
    assert TOKEN not in json.dumps(stored.auth_token.to_document(), default=str)
    assert TOKEN not in repr(stored)
    opened = gw.keyring.open(stored.auth_token, tenant_id="ten_a", purpose=TWILIO_AUTH_TOKEN)
    assert opened.reveal() == TOKEN


def test_changing_the_numbers_keeps_the_token_and_the_ids(gw) -> None:
    first = gw.client.put(PATH, json=account(), headers=gw.as_tenant()).json()
    body = account(numbers=[{"phone_number": "+442071838750"}, {"phone_number": "+15550001111"}])
    del body["auth_token"]
    changed = gw.client.put(PATH, json=body, headers=gw.as_tenant())
    assert changed.status_code == 200, changed.text
    answer = changed.json()
    assert answer["auth_token_fingerprint"] == first["auth_token_fingerprint"]
    assert [n["phone_number"] for n in answer["numbers"]] == ["+15550001111", "+442071838750"]
    assert answer["numbers"][1]["id"] == first["numbers"][1]["id"]
    assert "+15017122661" not in gw.twilio.numbers  # released
    other = gw.client.put(
        PATH, json=account(auth_token="ffeeddccbbaa99887766554433221100"), headers=gw.as_tenant()
    )
    assert other.json()["auth_token_fingerprint"] != first["auth_token_fingerprint"]


def test_a_new_account_needs_its_token(gw, expect_problem) -> None:
    body = account()
    del body["auth_token"]
    problem = expect_problem(gw.client.put(PATH, json=body, headers=gw.as_tenant()), 409)
    assert [e["name"] for e in problem["errors"]] == ["body.auth_token"]
    gw.client.put(PATH, json=account(), headers=gw.as_tenant())
    body["account_sid"] = "AC" + "f" * 32  # another account: its token
    expect_problem(gw.client.put(PATH, json=body, headers=gw.as_tenant()), 409)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"account_sid": "AC123"}, "body.account_sid"),
        ({"account_sid": "SK" + "0" * 32}, "body.account_sid"),
        ({"auth_token": "short"}, "body.auth_token"),
        ({"auth_token": "z" * 32}, "body.auth_token"),
        ({"numbers": [{"phone_number": "5017122661"}]}, "body.numbers[0].phone_number"),
        ({"numbers": [{"phone_number": "+0123456789"}]}, "body.numbers[0].phone_number"),
        (
            {"numbers": [{"phone_number": "+1501712266", "whatsapp": "maybe"}]},
            "body.numbers[0].whatsapp",
        ),
        (
            {"numbers": [{"phone_number": "+1501712266", "whatsapp": 0}]},
            "body.numbers[0].whatsapp",
        ),
        ({"numbers": [{"phone_number": "+15017122661"}] * 2}, "body.numbers"),
        ({"api_key": "x"}, "body.api_key"),
    ],
)
def test_invalid_accounts_are_422_naming_the_field(gw, expect_problem, changes, field) -> None:
    answer = gw.client.put(PATH, json=account(**changes), headers=gw.as_tenant())
    problem = expect_problem(answer, 422)
    assert field in [e["name"] for e in problem["errors"]], problem
    assert TOKEN not in answer.text and "zzzz" not in answer.text
    assert gw.twilio.accounts == {}


def test_another_tenants_number_or_account_is_409_naming_it(gw, expect_problem) -> None:
    gw.client.put(PATH, json=account(), headers=gw.as_tenant("key-a"))
    mine = {"phone_number": "+15550002222"}
    theirs = {"phone_number": "+442071838750"}
    body = account(account_sid="AC" + "b" * 32, numbers=[mine, theirs])
    problem = expect_problem(gw.client.put(PATH, json=body, headers=gw.as_tenant("key-b")), 409)
    assert "+442071838750" in problem["detail"]
    assert [e["name"] for e in problem["errors"]] == ["body.numbers[1].phone_number"]
    assert "ten_b" not in gw.twilio.accounts and "+15550002222" not in gw.twilio.numbers
    same_account = account(numbers=[mine])
    problem = expect_problem(
        gw.client.put(PATH, json=same_account, headers=gw.as_tenant("key-b")), 409
    )
    assert [e["name"] for e in problem["errors"]] == ["body.account_sid"]


def test_another_tenant_can_neither_read_nor_change_nor_remove_the_account(
    gw, expect_problem
) -> None:
    before = gw.client.put(PATH, json=account(), headers=gw.as_tenant("key-a")).json()
    expect_problem(gw.client.get(PATH, headers=gw.as_tenant("key-b")), 404)
    expect_problem(gw.client.delete(PATH, headers=gw.as_tenant("key-b")), 404)
    without_token = account()
    del without_token["auth_token"]  # keeping "the stored token" is for one's own account
    expect_problem(gw.client.put(PATH, json=without_token, headers=gw.as_tenant("key-b")), 409)
    other_token = account(auth_token="ffeeddccbbaa99887766554433221100", numbers=[])
    expect_problem(gw.client.put(PATH, json=other_token, headers=gw.as_tenant("key-b")), 409)
    assert gw.client.get(PATH, headers=gw.as_tenant("key-a")).json() == before
    for method in ("get", "delete"):
        expect_problem(getattr(gw.client, method)(PATH), 401)
    expect_problem(gw.client.put(PATH, json=account()), 401)


def test_disconnecting_forgets_account_and_numbers(gw, expect_problem) -> None:
    gw.client.put(PATH, json=account(), headers=gw.as_tenant())
    assert gw.client.delete(PATH, headers=gw.as_tenant()).status_code == 204
    expect_problem(gw.client.get(PATH, headers=gw.as_tenant()), 404)
    assert gw.twilio.numbers == {}
    expect_problem(gw.client.delete(PATH, headers=gw.as_tenant()), 404)


def test_without_a_kek_accounts_are_503_not_stored_in_the_clear(gw, expect_problem) -> None:
    app_gateway = gw.client.app.app.state.gateway
    gw.client.app.app.state.gateway = type(app_gateway)(**{**vars(app_gateway), "keyring": None})
    answer = gw.client.put(PATH, json=account(), headers=gw.as_tenant())
    assert "CONNECTFLO_KEKS" in expect_problem(answer, 503)["detail"]
    assert int(answer.headers["retry-after"]) > 0
    assert gw.twilio.accounts == {}


def test_a_token_sealed_under_a_dropped_kek_is_503_for_its_webhooks(gw, expect_problem) -> None:
    gw.client.put(PATH, json=account(), headers=gw.as_tenant())
    app_gateway = gw.client.app.app.state.gateway
    other = Keyring([Kek("other", bytes(32))])
    gw.client.app.app.state.gateway = type(app_gateway)(**{**vars(app_gateway), "keyring": other})
    answer = gw.client.post(
        "/webhooks/twilio/messages",
        content=f"To=%2B15017122661&From=%2B15550001111&MessageSid=SM1&AccountSid={SID}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"},
    )
    expect_problem(answer, 503)
    assert gw.broker.published == []
