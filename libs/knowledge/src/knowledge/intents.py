"""A customer message's intent, learnt from a handful of declared examples per intent.

Features are TF-IDF (sublinear term frequency) of word 1-2-grams and of character 3-5-grams
within words (robust to typos and inflections), side by side; the model is a multinomial
logistic regression, its classes weighed equally however many examples each has. Besides the
declared intents the classifier always knows a "none" class, learnt from a shipped list of
greetings, thanks, small talk and questions no business declares (``out_of_domain.txt``):
with it a single declared intent can be told from anything else, and a confidence is the
probability of the winner against real alternatives.

scikit-learn is imported by ``train`` (it takes seconds to import); ``classify`` computes the
same features and probabilities as scikit-learn would with the fitted vocabularies and
coefficients, without its per-call validation (most of the cost of classifying one message)."""

from __future__ import annotations

import functools
import importlib.resources
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

RANKED = 3
"""How many intents an ``IntentGuess`` ranks."""

REGULARISATION = 10.0
"""Logistic regression's C (weak regularisation: few examples per class), chosen by
cross-validation on the training split of the sample intents (knowledge.samples)."""

_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class IntentExample:
    """A declared intent: its name, what it means (one more example) and example messages."""

    name: str
    description: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class IntentGuess:
    """``intent`` is None when the message matches no declared intent better than the "none"
    class; ``confidence`` is the winner's probability (of the intent, or of "none");
    ``ranking`` the ``RANKED`` most probable declared intents, best first."""

    intent: str | None
    confidence: float
    ranking: tuple[tuple[str, float], ...]


@functools.cache
def out_of_domain() -> tuple[str, ...]:
    """The examples of the built-in "none" class."""
    text = importlib.resources.files("knowledge").joinpath("out_of_domain.txt").read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


@dataclass(frozen=True)
class _Features:
    """One fitted TF-IDF vectorizer, as plain data."""

    analyze: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: NDArray[np.float64]
    offset: int  # where its columns start in the joined feature vector

    def add(self, text: str, columns: list[int], values: list[float]) -> None:
        counts: dict[int, int] = {}
        for feature in self.analyze(text):
            column = self.vocabulary.get(feature)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return
        found = list(counts)
        weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * self.idf[found]
        weights /= math.sqrt(float(weights @ weights))
        columns.extend(c + self.offset for c in found)
        values.extend(weights.tolist())


class IntentClassifier:
    """Built by ``train``; ``classify`` is pure and thread-safe."""

    def __init__(
        self,
        names: Sequence[str],
        features: Sequence[_Features],
        coefficients: NDArray[np.float64],
        intercepts: NDArray[np.float64],
    ) -> None:
        self._names = tuple(names)  # by class; the last class is "none"
        self._features = tuple(features)
        self._coefficients = coefficients  # (features, classes)
        self._intercepts = intercepts

    @property
    def intents(self) -> tuple[str, ...]:
        """The declared intents' names."""
        return self._names[:-1]

    @classmethod
    def train(cls, intents: Sequence[IntentExample]) -> IntentClassifier:
        """A classifier for ``intents`` (at least one; names distinct, each with a description
        or an example)."""
        texts, labels = _training_set(intents)
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        vectorizers = [
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
        ]
        union = FeatureUnion([("words", vectorizers[0]), ("characters", vectorizers[1])])
        model = LogisticRegression(
            C=REGULARISATION, class_weight="balanced", max_iter=2000, random_state=0
        )
        # A problem this small is solved fastest on one thread: BLAS threads contending for a
        # busy machine's cores slow the same fit down many times over.
        with threadpool_limits(limits=1):
            model.fit(union.fit_transform(texts), labels)
        features, offset = [], 0
        for vectorizer in vectorizers:
            vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
            features.append(
                _Features(
                    analyze=vectorizer.build_analyzer(),
                    vocabulary=vocabulary,
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                    offset=offset,
                )
            )
            offset += len(vocabulary)
        coefficients, intercepts = _by_class(model, n_classes=len(intents) + 1)
        return cls([i.name for i in intents] + ["none"], features, coefficients, intercepts)

    def classify(self, text: str) -> IntentGuess:
        """The most probable intent of ``text`` (None for "none")."""
        columns: list[int] = []
        values: list[float] = []
        for features in self._features:
            features.add(text, columns, values)
        logits = self._intercepts + np.asarray(values) @ self._coefficients[columns]
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        best = int(np.argmax(probabilities))
        declared = probabilities[:-1]
        order = sorted(range(len(declared)), key=lambda i: (-declared[i], i))[:RANKED]
        return IntentGuess(
            intent=None if best == len(self._names) - 1 else self._names[best],
            confidence=float(probabilities[best]),
            ranking=tuple((self._names[i], float(declared[i])) for i in order),
        )


def _training_set(intents: Sequence[IntentExample]) -> tuple[list[str], list[int]]:
    if not intents:
        raise ValueError("no intents to learn")
    names = [i.name for i in intents]
    if len(set(names)) != len(names):
        raise ValueError(f"intent names must be distinct: {names}")
    texts: list[str] = []
    labels: list[int] = []
    for label, intent in enumerate(intents):
        own = [t for t in (intent.description, *intent.examples) if t.strip()]
        if not own:
            raise ValueError(f"intent {intent.name!r} has neither a description nor examples")
        texts += own
        labels += [label] * len(own)
    declared = [set(_WORDS.findall(t.lower())) for t in texts]
    # A declared greeting (or thanks...) must not be taught as "none" as well.
    unlike = [
        phrase
        for phrase in out_of_domain()
        if not any(_similar(set(_WORDS.findall(phrase.lower())), d) for d in declared)
    ]
    none = unlike or list(out_of_domain())
    return texts + none, labels + [len(intents)] * len(none)


def _similar(a: set[str], b: set[str]) -> bool:
    return len(a & b) >= 0.5 * len(a | b)


def _by_class(model: Any, *, n_classes: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The fitted coefficients as (features, classes) and the intercepts, in label order (a
    binary model has one row of coefficients: the second class's logit, the first's 0)."""
    coefficients = np.asarray(model.coef_, dtype=np.float64)
    intercepts = np.asarray(model.intercept_, dtype=np.float64)
    if n_classes == 2:
        coefficients = np.vstack([np.zeros_like(coefficients), coefficients])
        intercepts = np.concatenate([[0.0], intercepts])
    return np.ascontiguousarray(coefficients.T), intercepts
