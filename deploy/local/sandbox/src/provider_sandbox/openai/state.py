"""What the sandbox's OpenAI holds: revoked keys, queued failures, each key's request window,
the requests it received and the responses it stored (`GET /responses/{id}`)."""

from __future__ import annotations

import string
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..limits import RollingWindow

DEFAULT_REQUESTS_PER_MINUTE = 10_000  # a high tier's RPM: nothing is limited unless asked
KEPT = 10_000  # requests and stored responses kept, oldest forgotten first
VISIBLE = frozenset(string.printable[:94])  # visible ASCII, no space


@dataclass
class InjectedFailure:
    status: int  # 429, 500 or 503
    remaining: int
    path: str | None  # "chat/completions", "responses", "embeddings"; None: any
    retry_after: float | None

    def matches(self, path: str) -> bool:
        return self.path is None or self.path == path


class OpenAIState:
    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.failures: list[InjectedFailure] = []
        self.requests_per_minute = DEFAULT_REQUESTS_PER_MINUTE
        self.windows: dict[str, RollingWindow] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=KEPT)
        self.responses: dict[str, dict[str, Any]] = {}
        self.histories: dict[str, list[tuple[str, str]]] = {}  # response id -> its turns

    def reset(self) -> None:
        self.revoked.clear()
        self.failures.clear()
        self.requests_per_minute = DEFAULT_REQUESTS_PER_MINUTE
        self.windows.clear()
        self.requests.clear()
        self.responses.clear()
        self.histories.clear()

    @staticmethod
    def well_formed(key: str) -> bool:
        """An OpenAI key's look: `sk-`, at least 20 visible ASCII characters."""
        return key.startswith("sk-") and len(key) >= 20 and set(key) <= VISIBLE

    def accepts(self, key: str) -> bool:
        return self.well_formed(key) and key not in self.revoked

    def window(self, key: str) -> RollingWindow:
        window = self.windows.get(key)
        if window is None or window.limit != self.requests_per_minute:
            window = self.windows[key] = RollingWindow(self.requests_per_minute, 60)
        return window

    def failure_for(self, path: str) -> InjectedFailure | None:
        """The first queued failure matching `path`, counted down (and dropped when spent)."""
        for failure in self.failures:
            if failure.matches(path):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self.failures.remove(failure)
                return failure
        return None

    def store(self, response: dict[str, Any], turns: list[tuple[str, str]]) -> None:
        if len(self.responses) >= KEPT:
            oldest = next(iter(self.responses))
            del self.responses[oldest]
            self.histories.pop(oldest, None)
        self.responses[response["id"]] = response
        self.histories[response["id"]] = turns
