"""The pure parts of the channels: conversation and number ids, form bodies as signed."""

from __future__ import annotations

import pytest
from trigger_gateway.domain.channels import number_id_for, plain_address
from trigger_gateway.domain.conversation_keys import conversation_id_for
from trigger_gateway.domain.input_text import Refused, form_fields


def test_a_conversation_id_is_the_same_for_a_thread_and_differs_for_any_other() -> None:
    thread = ("ten_a", "sms", "+15557654321", "+15550001111")
    same = conversation_id_for(*thread)
    assert same == conversation_id_for(*thread)
    others = {
        conversation_id_for("ten_b", "sms", "+15557654321", "+15550001111"),
        conversation_id_for("ten_a", "whatsapp", "+15557654321", "+15550001111"),
        conversation_id_for("ten_a", "sms", "+15557654322", "+15550001111"),
        conversation_id_for("ten_a", "sms", "+15557654321", "+15550002222"),
        # no separator makes two tuples one text
        conversation_id_for("ten_a", "sms", "+15557654321+", "15550001111"),
    }
    assert same not in others and len(others) == 5


def test_a_number_id_is_stable_per_tenant_and_number() -> None:
    assert number_id_for("ten_a", "+15550001111") == number_id_for("ten_a", "+15550001111")
    assert number_id_for("ten_a", "+15550001111") != number_id_for("ten_b", "+15550001111")
    assert len(number_id_for("ten_a", "+15550001111")) == len("pn_") + 24


def test_whatsapp_addresses_lose_their_prefix() -> None:
    assert plain_address("whatsapp:+15550001111") == ("+15550001111", True)
    assert plain_address("+15550001111") == ("+15550001111", False)


def test_a_form_body_keeps_order_repeats_and_blank_values() -> None:
    raw = b"Body=&To=%2B15550001111&Body=caf%C3%A9+ok&Flag"
    assert form_fields(raw) == [
        ("Body", ""),
        ("To", "+15550001111"),
        ("Body", "café ok"),
        ("Flag", ""),
    ]


@pytest.mark.parametrize(
    ("raw", "name"),
    [(b"Body=%FF", "body.Body"), (b"A%00=1", "body.A\\x00"), (b"\xff=1", "body")],
)
def test_a_form_body_with_invalid_text_is_refused_naming_where(raw: bytes, name: str) -> None:
    with pytest.raises(Refused) as refused:
        form_fields(raw)
    assert refused.value.name == name
