"""Words and token counts, the same for every endpoint.

Tokens are estimated, not counted (tiktoken is not a dependency): about four characters a
token, rounded up, plus OpenAI's overhead of 3 tokens a chat message and 3 for the reply."""

from __future__ import annotations

import math
import re

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i if
    in into is it its me my no not of on or our so than that the their them then there these
    they this to too was we were what when where which who why will with would you your yours
    am any all also about after before just only up out over under again very s t""".split()  # noqa: SIM905 (a word list reads better so)
)


def words(text: str) -> list[str]:
    """Lower-case words, possessive 's dropped ("Ana's" -> "ana")."""
    return [w.removesuffix("'s") for w in WORD.findall(text.lower())]


def content_words(text: str) -> set[str]:
    """The words that carry meaning: no stopwords."""
    return {w for w in words(text) if w not in STOPWORDS}


def stem(word: str) -> str:
    """A light suffix stripping: plural "s"/"es"/"ies" (refunds -> refund, policies -> policy)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> int:
    """The estimate: ceil(characters / 4)."""
    return math.ceil(len(text) / 4)


def truncated(text: str, max_tokens: int) -> str:
    """At most `max_tokens` by the estimate, cut at a word boundary where there is one."""
    limit = max_tokens * 4
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > 0 else cut
