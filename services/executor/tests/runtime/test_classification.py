"""MessageClassifier: a tenant's settings read at most once per TTL, its classifier trained
once per revision (off the event loop), the old revision's dropped."""

from __future__ import annotations

from typing import Any

from executor.adapters.intent_engine import EngineFailed
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
        self.configs: dict[str, dict[str, Any]] = {}
        self.reads = 0

    async def classification(self, tenant_id: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.stored.get(tenant_id)

    async def ai_config(self, tenant_id: str, config_id: str) -> dict[str, Any] | None:
        return self.configs.get(config_id)


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


class Engine:
    """The openai engine as the integrations service answers it (or fails)."""

    def __init__(self, answer: dict[str, Any] | None) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str | None, str | None, str, int]] = []

    async def classify(self, tenant_id, connection, model, text, intents) -> dict[str, Any]:
        self.asked.append((tenant_id, connection, model, text, len(intents)))
        if self.answer is None:
            raise EngineFailed("RateLimited: slow down")
        return self.answer


def openai_settings(**more: Any) -> Settings:
    settings = Settings()
    settings.stored["ten_a"] = {
        "intents": INTENTS,
        "revision": 1,
        "engine": "openai",
        "ai_config_id": "aic_1",
        **more,
    }
    settings.configs["aic_1"] = {"connection_id": "con_1", "model": "gpt-4.1-mini"}
    return settings


async def test_the_openai_engine_answers_for_its_tenant_and_only_its_messages() -> None:
    engine = Engine({"intent": "order_status", "confidence": 0.93, "model": "gpt-4.1-mini"})
    classifier = MessageClassifier(openai_settings(), engine=engine)
    await classifier.prepare(["ten_a", "ten_b"])
    mine, theirs, empty = await classifier.classify_all(
        [("ten_a", "I want a refund"), ("ten_b", "I want a refund"), ("ten_a", " ")]
    )
    assert mine is not None and mine["intent"] == {
        "name": "order_status",  # the model's, not the local classifier's
        "confidence": 0.93,
        "ranking": [{"name": "order_status", "confidence": 0.93}],
        "engine": "openai",
        "model": "gpt-4.1-mini",
    }
    assert "sentiment" in mine
    assert theirs is not None and "intent" not in theirs and empty is None
    assert engine.asked == [("ten_a", "con_1", "gpt-4.1-mini", "I want a refund", 2)]


async def test_when_the_engine_fails_the_local_classifier_answers_and_says_why() -> None:
    classifier = MessageClassifier(openai_settings(), engine=Engine(None))
    await classifier.prepare(["ten_a"])
    (found,) = await classifier.classify_all([("ten_a", "I want a refund")])
    assert found is not None
    assert found["intent"]["engine"] == "local" and found["intent"]["name"] == "refund_request"
    assert found["intent"]["fallback"] == "RateLimited: slow down"


async def test_the_tenants_min_confidence_holds_for_the_model_too() -> None:
    engine = Engine({"intent": "order_status", "confidence": 0.5})
    classifier = MessageClassifier(openai_settings(min_confidence=0.8), engine=engine)
    await classifier.prepare(["ten_a"])
    (found,) = await classifier.classify_all([("ten_a", "where is it")])
    assert found is not None and found["intent"]["name"] is None
    assert found["intent"]["ranking"][0]["name"] == "order_status"


async def test_a_deleted_ai_configuration_leaves_the_local_classifier() -> None:
    settings = openai_settings()
    settings.configs.clear()
    engine = Engine({"intent": "order_status", "confidence": 0.9})
    classifier = MessageClassifier(settings, engine=engine)
    await classifier.prepare(["ten_a"])
    (found,) = await classifier.classify_all([("ten_a", "I want a refund")])
    assert found is not None and found["intent"]["engine"] == "local" and engine.asked == []
