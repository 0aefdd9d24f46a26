"""Every customer's message is classified before triggers are matched (docs/architecture.md,
*Resources, retrieval and classification*): its sentiment with VADER (a lexicon: no model, no
key) and, for a tenant that declared intents, its intent with a classifier trained from the
declared examples (knowledge.intents: TF-IDF and logistic regression). The result is stored on
the logged message, given to Incoming Message runs as ``trigger.classification``, and starts
the tenant's Intent Detected and Sentiment Negative workflows (their filters decide).

With the tenant's engine ``openai`` (and its AI configuration: connection, model) the intent
is the model's, asked through the integrations service (adapters/intent_engine.py) for all
of a batch's messages at once; when it fails or is late the local classifier answers, and
the result says so (``engine: local``, ``fallback``: the reason).

A tenant's settings are read at most every ``ttl`` seconds; its classifier is trained once per
settings revision, in a worker thread (a fit takes a few hundred milliseconds for hundreds of
examples, and the first one imports scikit-learn: the event loop goes on meanwhile)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from knowledge.intents import IntentClassifier, IntentExample
from knowledge.sentiment import sentiment_of

from executor.adapters.intent_engine import EngineFailed

log = logging.getLogger(__name__)
Document = dict[str, Any]
TTL_SECONDS = 5.0
MAX_TEXT = 2000


class SettingsSource(Protocol):
    async def classification(self, tenant_id: str) -> Document | None: ...

    async def ai_config(self, tenant_id: str, config_id: str) -> Document | None: ...


class IntentEngine(Protocol):
    async def classify(
        self,
        tenant_id: str,
        connection: str | None,
        model: str | None,
        text: str,
        intents: Sequence[Document],
    ) -> Document: ...


@dataclass(frozen=True)
class Remote:
    """The openai engine of a tenant: its AI configuration's connection and model."""

    connection: str | None
    model: str | None
    intents: tuple[Document, ...]


@dataclass(frozen=True)
class TenantClassification:
    sentiment: bool
    min_confidence: float
    classifier: IntentClassifier | None
    remote: Remote | None = None


NONE = TenantClassification(sentiment=True, min_confidence=0.0, classifier=None)


class MessageClassifier:
    def __init__(
        self,
        source: SettingsSource | None,
        *,
        engine: IntentEngine | None = None,
        ttl: float = TTL_SECONDS,
    ) -> None:
        self._source = source
        self._engine = engine
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

    async def classify_all(self, messages: Sequence[tuple[str, str]]) -> list[Document | None]:
        """The classification of each (tenant, text), in order: None for a message without
        text, or a tenant that turned sentiment off and declared no intents. The openai
        engine's answers are awaited together."""
        results = [self.classify(tenant, text) for tenant, text in messages]
        asked: list[tuple[int, Remote]] = []
        for i, (tenant, _) in enumerate(messages):
            remote = self._of(tenant).remote
            if remote is not None and results[i] is not None and self._engine is not None:
                asked.append((i, remote))
        answers = await asyncio.gather(
            *(self._remote(messages[i][0], remote, messages[i][1]) for i, remote in asked)
        )
        for (i, _), answer in zip(asked, answers, strict=True):
            result = results[i]
            assert result is not None
            if isinstance(answer, str):  # the local guess stands, and why
                result["intent"] = {**result["intent"], "fallback": answer}
                continue
            sure = answer["confidence"] >= self._of(messages[i][0]).min_confidence
            result["intent"] = {**answer, "name": answer["name"] if sure else None}
        return results

    def classify(self, tenant_id: str, text: str) -> Document | None:
        """The message's classification by the local engines (None for a message without
        text, or a tenant that turned sentiment off and declared no intents)."""
        text = text.strip()[:MAX_TEXT]
        if not text:
            return None
        settings = self._of(tenant_id)
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

    def _of(self, tenant_id: str) -> TenantClassification:
        cached = self._settings.get(tenant_id)
        return cached[1] if cached is not None else NONE

    async def _remote(self, tenant_id: str, remote: Remote, text: str) -> Document | str:
        """The openai engine's intent, or why the local one answers."""
        assert self._engine is not None
        try:
            said = await self._engine.classify(
                tenant_id, remote.connection, remote.model, text.strip()[:MAX_TEXT], remote.intents
            )
        except EngineFailed as exc:
            log.warning("the openai classification engine failed", extra={"reason": str(exc)})
            return str(exc)
        confidence = round(float(said["confidence"]), 4)
        return {
            "name": said["intent"],
            "confidence": confidence,
            "ranking": [{"name": said["intent"], "confidence": confidence}]
            if said["intent"]
            else [],
            "engine": "openai",
            "model": said.get("model"),
        }

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
        remote = None
        assert self._source is not None
        if intents and stored.get("engine") == "openai" and stored.get("ai_config_id"):
            config = await self._source.ai_config(tenant, str(stored["ai_config_id"]))
            if config is not None:  # deleted since: the local classifier answers
                remote = Remote(
                    connection=config.get("connection_id") or config.get("connection"),
                    model=config.get("model"),
                    intents=tuple(
                        {
                            "name": i["name"],
                            "description": i.get("description") or "",
                            "examples": list(i.get("examples") or ()),
                        }
                        for i in intents
                    ),
                )
        return TenantClassification(
            sentiment=bool(stored.get("sentiment", True)),
            min_confidence=float(stored.get("min_confidence") or 0.0),
            classifier=classifier,
            remote=remote,
        )
