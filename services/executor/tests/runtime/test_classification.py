"""MessageClassifier: a tenant's settings read at most once per TTL, its classifier trained
once per revision (off the event loop), the old revision's dropped."""

from __future__ import annotations

from typing import Any

from executor.runtime.classification import MessageClassifier

INTENTS = [
    {
        "name": "refund_request",
        "description": "money back",
        "examples": ["I want a refund", "give me my money back", "refund my order"],
    },
    {
        "name": "order_status",
        "description": "where an order is",
        "examples": ["where is my order", "track my parcel", "has my package shipped"],
    },
]


class Settings:
    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.reads = 0

    async def classification(self, tenant_id: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.stored.get(tenant_id)


async def test_sentiment_for_everyone_intents_for_the_tenant_that_declared_them() -> None:
    settings = Settings()
    settings.stored["ten_a"] = {"intents": INTENTS, "revision": 1, "min_confidence": 0.0}
    classifier = MessageClassifier(settings)
    await classifier.prepare(["ten_a", "ten_b"])

    mine = classifier.classify("ten_a", "I want my money back for this refund")
    assert mine is not None and mine["intent"]["name"] == "refund_request"
    assert mine["sentiment"]["label"] in {"positive", "neutral", "negative"}
    theirs = classifier.classify("ten_b", "this is awful, I hate it")
    assert theirs is not None and "intent" not in theirs
    assert theirs["sentiment"]["label"] == "negative"
    assert classifier.classify("ten_a", "   ") is None


async def test_settings_are_read_once_per_ttl_and_trained_once_per_revision() -> None:
    settings = Settings()
    settings.stored["ten_a"] = {"intents": INTENTS, "revision": 1}
    classifier = MessageClassifier(settings, ttl=3600)
    await classifier.prepare(["ten_a"])
    await classifier.prepare(["ten_a"])
    assert settings.reads == 1

    fresh = MessageClassifier(settings, ttl=0)
    await fresh.prepare(["ten_a"])
    first = fresh._trained[("ten_a", 1)]
    await fresh.prepare(["ten_a"])
    assert settings.reads == 3 and fresh._trained[("ten_a", 1)] is first  # not trained again

    settings.stored["ten_a"] = {"intents": INTENTS[:1] + INTENTS[1:], "revision": 2}
    await fresh.prepare(["ten_a"])
    assert list(fresh._trained) == [("ten_a", 2)]  # the old revision's classifier is gone


async def test_a_guess_below_the_tenants_confidence_names_no_intent() -> None:
    settings = Settings()
    settings.stored["ten_a"] = {"intents": INTENTS, "revision": 1, "min_confidence": 0.999}
    classifier = MessageClassifier(settings)
    await classifier.prepare(["ten_a"])
    guess = classifier.classify("ten_a", "refund")
    assert guess is not None and guess["intent"]["name"] is None
    assert guess["intent"]["ranking"][0]["name"] == "refund_request"
