"""servicekit.signing: the t=...,v1=... scheme the widget's messages and the tenants' webhooks
share, checked against a MAC computed here with hmac (the scheme, not the module's code)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from servicekit.signing import BadSignature, check_signature, signature_header

BODY = b'{"id":"evt_1","type":"ping"}'


def test_the_header_is_the_hmac_of_the_timestamp_and_the_body() -> None:
    header = signature_header("whsec_abc", 1_700_000_000, BODY)
    mac = hmac.new(b"whsec_abc", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={mac}"


def test_several_keys_sign_with_one_v1_each_and_either_checks() -> None:
    header = signature_header(["new", "old"], 100, BODY)
    assert header.count("v1=") == 2
    for key in ("new", "old"):
        check_signature(key, header, BODY, 100, window_seconds=300)


@pytest.mark.parametrize(
    ("header", "now", "reason"),
    [
        (None, 100, "not signed"),
        ("v1=00", 100, "not t="),
        (signature_header("k", 100, BODY), 401, "more than 300 s"),
        (signature_header("k", 100, BODY), -201, "more than 300 s"),
        (signature_header("other", 100, BODY), 100, "does not match"),
        (signature_header("k", 100, BODY + b" "), 100, "does not match"),
        ("t=1," + "v1=0," * 300, 1, "too long"),
    ],
)
def test_unsigned_stale_or_forged_is_refused(header: str | None, now: int, reason: str) -> None:
    with pytest.raises(BadSignature, match=reason):
        check_signature("k", header, BODY, now, window_seconds=300)
