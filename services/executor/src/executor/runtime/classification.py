"""Every customer's message is classified before triggers are matched (docs/architecture.md,
*Resources, retrieval and classification*): its sentiment with VADER (a lexicon: no model, no
key) and, for a tenant that declared intents, its intent with a classifier trained from the
declared examples (knowledge.intents: TF-IDF and logistic regression). The result is stored on
the logged message, given to Incoming Message runs as ``trigger.classification``, and starts
the tenant's Intent Detected and Sentiment Negative workflows (their filters decide).

A tenant's settings are read at most every ``ttl`` seconds; its classifier is trained once per
settings revision, in a worker thread (a fit takes a few hundred milliseconds for hundreds of
examples, and the first one imports scikit-learn: the event loop goes on meanwhile)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from knowledge.intents import IntentClassifier, IntentExample
from knowledge.sentiment import sentiment_of

log = logging.getLogger(__name__)
Document = dict[str, Any]
TTL_SECONDS = 5.0
MAX_TEXT = 2000


class SettingsSource(Protocol):
    async def classification(self, tenant_id: str) -> Document | None: ...


@dataclass(frozen=True)
class TenantClassification:
    sentiment: bool
    min_confidence: float
    classifier: IntentClassifier | None


NONE = TenantClassification(sentiment=True, min_confidence=0.0, classifier=None)


class MessageClassifier:
    def __init__(self, source: SettingsSource | None, *, ttl: float = TTL_SECONDS) -> None:
        self._source = source
        self._ttl = ttl
        self._settings: dict[str, tuple[float, TenantClassification]] = {}
        self._trained: dict[tuple[str, int], IntentClassifier] = {}

    async def prepare(self, tenants: Iterable[str]) -> None:
        """The settings of ``tenants`` read where not fresh (before ``classify``)."""
        if self._source is None:
            return
        now = time.monotonic()
        for tenant in tenants:
            cached = self._settings.get(tenant)
            if cached is not None and now - cached[0] < self._ttl:
                continue
            stored = await self._source.classification(tenant)
            self._settings[tenant] = (now, await self._built(tenant, stored))

    def classify(self, tenant_id: str, text: str) -> Document | None:
        """The message's classification (None for a message without text, or a tenant that
        turned sentiment off and declared no intents)."""
        text = text.strip()[:MAX_TEXT]
        if not text:
            return None
        cached = self._settings.get(tenant_id)
        settings = cached[1] if cached is not None else NONE
        result: Document = {}
        if settings.sentiment:
            s = sentiment_of(text)
            result["sentiment"] = {
                "score": round(s.score, 4),
                "label": s.label,
                "positive": round(s.positive, 3),
                "negative": round(s.negative, 3),
                "neutral": round(s.neutral, 3),
            }
        if settings.classifier is not None:
            guess = settings.classifier.classify(text)
            intent = guess.intent if guess.confidence >= settings.min_confidence else None
            result["intent"] = {
                "name": intent,
                "confidence": round(guess.confidence, 4),
                "ranking": [{"name": n, "confidence": round(p, 4)} for n, p in guess.ranking],
                "engine": "local",
            }
        return result or None

    async def _built(self, tenant: str, stored: Document | None) -> TenantClassification:
        if stored is None:
            return NONE
        intents = stored.get("intents") or []
        classifier = None
        if intents:
            key = (tenant, int(stored.get("revision") or 0))
            classifier = self._trained.get(key)
            if classifier is None:
                started = time.perf_counter()
                examples = [
                    IntentExample(
                        name=i["name"],
                        description=i.get("description") or "",
                        examples=tuple(i.get("examples") or ()),
                    )
                    for i in intents
                ]
                classifier = await asyncio.to_thread(IntentClassifier.train, examples)
                for older in [k for k in self._trained if k[0] == tenant]:
                    del self._trained[older]  # an older revision's classifier is not used again
                self._trained[key] = classifier
                log.info(
                    "trained the intent classifier of a tenant",
                    extra={"intents": len(intents), "seconds": time.perf_counter() - started},
                )
        return TenantClassification(
            sentiment=bool(stored.get("sentiment", True)),
            min_confidence=float(stored.get("min_confidence") or 0.0),
            classifier=classifier,
        )
