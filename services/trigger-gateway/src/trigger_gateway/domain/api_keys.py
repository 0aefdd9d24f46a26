"""Tenant API keys: random tokens shown once; only their SHA-256 digest is stored."""

import hashlib
import secrets

KEY_PREFIX = "cfk_"


def new_api_key() -> str:
    """A fresh API key (256 bits of randomness)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(api_key: str) -> str:
    """What we store and look up: keys are high-entropy, so a plain SHA-256 is enough."""
    return hashlib.sha256(api_key.encode()).hexdigest()
