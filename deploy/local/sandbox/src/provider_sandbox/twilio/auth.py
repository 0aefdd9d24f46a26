"""Who is calling: HTTP Basic with AccountSid:AuthToken or an API key (SK...:secret), and how
often (a per-account token bucket answering 429 / 20429 with Retry-After, as Twilio does)."""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from .errors import TwilioApiError
from .state import Account, TwilioState

API_VERSION = "2010-04-01"
AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="Twilio API"'}


def unauthenticated() -> TwilioApiError:
    return TwilioApiError(
        401,
        20003,
        "Authenticate",
        detail="Your AccountSid or AuthToken was incorrect.",
        headers=AUTHENTICATE,
    )


def authenticate(state: TwilioState, authorization: str | None) -> Account:
    """The account whose credentials these are, or 401 / 20003."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        raise unauthenticated()
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthenticated() from None
    account = state.accounts.get(username)
    if account is not None and secrets.compare_digest(account.auth_token, password):
        return account
    key = state.api_keys.get(username)
    if key is not None and secrets.compare_digest(key.secret, password):
        owner = state.accounts.get(key.account_sid)
        if owner is not None:
            return owner
    raise unauthenticated()


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Requests per second and account; a burst of up to one second's worth is admitted."""

    def __init__(self, default_rps: float) -> None:
        self.default_rps = default_rps
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, account: Account) -> None:
        rps = account.rps if account.rps is not None else self.default_rps
        capacity = max(1.0, rps)
        clock = time.monotonic()
        bucket = self._buckets.setdefault(account.sid, _Bucket(capacity, clock))
        bucket.tokens = min(capacity, bucket.tokens + (clock - bucket.at) * rps)
        bucket.at = clock
        if bucket.tokens < 1:
            wait = math.ceil((1 - bucket.tokens) / rps) if rps > 0 else 60
            raise TwilioApiError(
                429, 20429, "Too Many Requests", headers={"Retry-After": str(max(1, wait))}
            )
        bucket.tokens -= 1

    def reset(self) -> None:
        self._buckets.clear()


AccountDependency = Callable[[Request, str], Coroutine[Any, Any, Account]]


def account_guard(state: TwilioState, limiter: RateLimiter) -> AccountDependency:
    """A FastAPI dependency for `/2010-04-01/Accounts/{AccountSid}/...`: the authenticated
    account, which must be the one in the path (else 403 / 20003), within its rate."""

    async def guarded_account(request: Request, AccountSid: str) -> Account:
        account = authenticate(state, request.headers.get("authorization"))
        if AccountSid != account.sid:
            raise TwilioApiError(
                403,
                20003,
                "Authenticate",
                detail=f"The credentials do not give access to account {AccountSid}.",
            )
        limiter.admit(account)
        return account

    return guarded_account


def account_path(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}"


CredentialsDependency = Callable[[Request], Coroutine[Any, Any, Account]]


def credentials_guard(state: TwilioState, limiter: RateLimiter) -> CredentialsDependency:
    """For the APIs without the account in the path (messaging.twilio.com/v1/...)."""

    async def credentialed_account(request: Request) -> Account:
        account = authenticate(state, request.headers.get("authorization"))
        limiter.admit(account)
        return account

    return credentialed_account
