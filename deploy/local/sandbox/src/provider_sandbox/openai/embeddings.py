"""`POST /v1/embeddings` (https://platform.openai.com/docs/api-reference/embeddings/create).

Vectors are feature hashing, not a model: each text's lower-cased words (plural suffixes
stripped, stopwords dropped unless nothing else is left) and their bigrams are hashed
(BLAKE2b) to an index and a sign in the requested dimensions, bigrams at half weight, and the
vector is L2-normalised. Texts sharing words are closer (higher cosine) than unrelated ones;
the same text always gets the same vector. A token array's tokens are hashed the same way."""

from __future__ import annotations

import array
import base64
import hashlib
import itertools
import math
import sys
from typing import Any

from . import errors
from .models import model_for
from .params import integer, model_of, only_known
from .text import STOPWORDS, stem, tokens, words

KNOWN = frozenset({"model", "input", "dimensions", "encoding_format", "user"})
ENCODINGS = ("float", "base64")
MAX_INPUTS = 2048
INVALID_INPUT = (
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference."
)


def features(text: str | list[int]) -> list[tuple[str, float]]:
    if isinstance(text, list):
        grams = [f"t{token}" for token in text]
    else:
        every = [stem(w) for w in words(text)]
        grams = [w for w in every if w not in STOPWORDS] or every or [text.strip() or " "]
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(grams)]
    return [(g, 1.0) for g in grams] + [(p, 0.5) for p in pairs]


def vector(text: str | list[int], dimensions: int) -> array.array[float]:
    """The L2-normalised hashed features, as float32 (what the API sends)."""
    values = [0.0] * dimensions
    for feature, weight in features(text):
        digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
        values[digest % dimensions] += weight if digest >> 63 else -weight
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return array.array("f", (v / norm for v in values))


def _token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _inputs(value: Any) -> list[str | list[int]]:
    if value is None:
        raise errors.missing("input")
    single_array = isinstance(value, list) and value and all(_token(t) for t in value)
    if isinstance(value, str) or single_array:
        value = [value]
    if not isinstance(value, list) or not value or len(value) > MAX_INPUTS:
        raise errors.bad_request(INVALID_INPUT)
    for item in value:
        text = isinstance(item, str) and item != ""
        token_array = isinstance(item, list) and item and all(_token(t) for t in item)
        if not (text or token_array):
            raise errors.bad_request(INVALID_INPUT)
    return value


def encoded(values: array.array[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return values.tolist()
    if sys.byteorder != "little":
        values = array.array("f", values)
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode()


def create(body: dict[str, Any]) -> dict[str, Any]:
    only_known(body, KNOWN)
    model = model_for(model_of(body), "embedding", "v1/embeddings")
    inputs = _inputs(body.get("input"))
    size = integer(body, "dimensions", 1, model.dimensions) or model.dimensions
    encoding = body.get("encoding_format") or "float"
    if encoding not in ENCODINGS:
        raise errors.invalid_value("encoding_format", encoding, ENCODINGS)
    used = sum(len(i) if isinstance(i, list) else tokens(i) for i in inputs)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encoded(vector(t, size), encoding)}
            for i, t in enumerate(inputs)
        ],
        "model": model.snapshot,
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }
