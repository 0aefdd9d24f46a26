"""A tenant's plan and what it allows (contracts.ai.PLANS): the words a refusal says.

A request past a limit is refused naming the limit (`maxDocuments`), the plan and what it
allows, so a client can tell "upgrade" from "fix the request"."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.ai import plan_limits

_ALLOWS = {
    "maxDocuments": "{n} documents",
    "maxDocumentBytes": "documents of up to {n} bytes",
    "maxDocumentsPerWorkflow": "{n} documents per workflow",
    "maxPhoneNumbersPerWorkflow": "{n} phone numbers per workflow",
    "maxAiConfigs": "{n} AI configurations",
    "maxIntents": "{n} intents",
}


@dataclass(frozen=True)
class LimitReached:
    """``limit`` of ``plan`` (``allowed``) refuses the request; ``current``: how many there
    are (or how large the input is), when it says more."""

    plan: str
    limit: str
    allowed: int
    current: int | None = None

    @property
    def detail(self) -> str:
        text = (
            f"plan {self.plan} allows {_ALLOWS[self.limit].format(n=self.allowed)} ({self.limit})"
        )
        if self.current is None:
            return text
        if self.limit == "maxDocumentBytes":
            return f"{text}; this one has {self.current} bytes"
        return f"{text}; there are {self.current}"

    @property
    def members(self) -> dict[str, object]:
        """The problem's extension members."""
        members: dict[str, object] = {
            "limit": self.limit,
            "plan": self.plan,
            "allowed": self.allowed,
        }
        if self.current is not None:
            members["current"] = self.current
        return members


def allowed(plan: str, limit: str) -> int:
    value: int = getattr(plan_limits(plan), limit)
    return value


def check_count(plan: str, limit: str, current: int, adding: int = 1) -> LimitReached | None:
    """A refusal when ``current + adding`` is more than ``limit`` allows."""
    most = allowed(plan, limit)
    return LimitReached(plan, limit, most, current) if current + adding > most else None
