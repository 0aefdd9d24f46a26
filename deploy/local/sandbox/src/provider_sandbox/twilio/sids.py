"""Twilio's resource identifiers: a two-letter type prefix and 32 hex digits."""

from __future__ import annotations

import re
import secrets

ACCOUNT = "AC"
API_KEY = "SK"
PHONE_NUMBER = "PN"
MESSAGE = "SM"
MEDIA_MESSAGE = "MM"  # a message with media (MMS, or WhatsApp with media)
MESSAGING_SERVICE = "MG"


def mint(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def is_sid(value: str, *prefixes: str) -> bool:
    return any(re.fullmatch(f"{p}[0-9a-fA-F]{{32}}", value) for p in prefixes)
