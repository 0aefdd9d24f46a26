"""The sentiment of a customer's message with VADER: a lexicon and rules tuned to short social
text (no model to download, no key)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

MAX_CHARACTERS = 2000
"""Longer texts are scored on their beginning: VADER's cost grows with the text, its verdict
on a long text means little."""

POSITIVE_FROM, NEGATIVE_FROM = 0.05, -0.05
"""VADER's documented thresholds on the compound score."""


@dataclass(frozen=True)
class Sentiment:
    """``score`` is VADER's compound (-1 to 1); ``positive``, ``negative`` and ``neutral`` the
    shares of the text in each (adding up to 1, or all 0 for a text without words)."""

    score: float
    label: Literal["negative", "neutral", "positive"]
    positive: float
    negative: float
    neutral: float


@functools.cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment_of(text: str) -> Sentiment:
    """The sentiment of ``text`` (of its first ``MAX_CHARACTERS`` characters)."""
    polarity = _analyzer().polarity_scores(text[:MAX_CHARACTERS])
    score = float(polarity["compound"])
    label: Literal["negative", "neutral", "positive"] = (
        "positive"
        if score >= POSITIVE_FROM
        else "negative"
        if score <= NEGATIVE_FROM
        else "neutral"
    )
    return Sentiment(
        score=score,
        label=label,
        positive=float(polarity["pos"]),
        negative=float(polarity["neg"]),
        neutral=float(polarity["neu"]),
    )
