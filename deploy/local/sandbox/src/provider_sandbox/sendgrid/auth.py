"""Who is calling (``Authorization: Bearer <API key>``) and how often: a token bucket per
account answering 429 with SendGrid's X-RateLimit headers."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from .errors import Problem, SendGridApiError, unauthorized
from .state import Account, SendGridState


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, rps: float) -> None:
        self.rps = rps
        self._buckets: dict[str, _Bucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def take(self, account: Account) -> None:
        rate = account.rps or self.rps
        now = time.monotonic()
        bucket = self._buckets.setdefault(account.account_id, _Bucket(rate, now))
        bucket.tokens = min(rate, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1:
            reset = math.ceil(time.time() + (1 - bucket.tokens) / rate)
            headers = {
                "X-RateLimit-Limit": str(math.ceil(rate)),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset),
                "Retry-After": str(max(1, math.ceil((1 - bucket.tokens) / rate))),
            }
            raise SendGridApiError(429, [Problem("too many requests")], headers)
        bucket.tokens -= 1


def account_guard(state: SendGridState, limiter: RateLimiter) -> Callable[[Request], Account]:
    """A dependency: the account of the request's API key (401 otherwise), within its rate."""

    def guard(request: Request) -> Account:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if not key:
            raise unauthorized("authorization required")
        account = state.by_key.get(key.strip()) if scheme.lower() == "bearer" else None
        if account is None:
            raise unauthorized("The provided authorization grant is invalid, expired, or revoked")
        limiter.take(account)
        return account

    return guard
