"""A provider's rolling request window: at most ``limit`` requests in any ``seconds`` (HubSpot's
ten seconds, Zendesk's minute, Jira's per-minute points budget, Salesforce's day)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class RollingWindow:
    limit: int
    seconds: float
    _at: deque[float] = field(default_factory=deque, repr=False)

    def admit(self) -> int | None:
        """What is left of the window after this request; None: over the limit (not counted)."""
        moment = time.monotonic()
        while self._at and moment - self._at[0] >= self.seconds:
            self._at.popleft()
        if len(self._at) >= self.limit:
            return None
        self._at.append(moment)
        return self.limit - len(self._at)

    def wait(self) -> float:
        """Seconds until the oldest request leaves the window (0 when there is room)."""
        if len(self._at) < self.limit:
            return 0.0
        return max(0.0, self._at[0] + self.seconds - time.monotonic())

    @property
    def used(self) -> int:
        return len(self._at)
