"""Labelled samples shipped with the package, for tests, demos and ``bench/knowledge_eval.py``:
the help centre of a fictional outdoor shop, Acme Outfitters (``samples/help-centre``),
customer questions about it with the passage that answers them, a labelled intent set with
a fixed train/test split, and customer messages labelled by sentiment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal

from knowledge.intents import IntentExample

Split = Literal["train", "test"]
_FORMAT_BY_SUFFIX = {"md": "markdown", "html": "html", "txt": "text"}


@dataclass(frozen=True)
class SampleQuestion:
    """A customer's question: the help-centre file that answers it and a short phrase of the
    answering passage (both None for a question the help centre cannot answer)."""

    question: str
    document: str | None
    answer_contains: str | None


@dataclass(frozen=True)
class LabelledText:
    """A message and its label (an intent's name, or a sentiment label)."""

    text: str
    label: str


def _samples() -> Traversable:
    return files("knowledge").joinpath("samples")


def _json(name: str) -> Any:
    return json.loads(_samples().joinpath(name).read_text("utf-8"))


def sample_documents() -> list[tuple[str, str, str]]:
    """The help centre's documents as (file name, format, content), by file name."""
    found = []
    for entry in _samples().joinpath("help-centre").iterdir():
        format = _FORMAT_BY_SUFFIX.get(entry.name.rsplit(".", 1)[-1])
        if entry.is_file() and format is not None:
            found.append((entry.name, format, entry.read_text("utf-8")))
    return sorted(found)


def sample_questions() -> list[SampleQuestion]:
    """Questions about the help centre, the unanswerable ones last."""
    return [
        SampleQuestion(q["question"], q["document"], q["answer_contains"])
        for q in _json("questions.json")
    ]


def sample_intents(split: Split = "train") -> list[IntentExample]:
    """The shop's intents, each with its description and its examples of ``split``."""
    return [
        IntentExample(
            name=intent["name"],
            description=intent["description"],
            examples=tuple(e["text"] for e in intent["examples"] if e["split"] == split),
        )
        for intent in _json("intents.json")["intents"]
    ]


def sample_intent_messages(split: Split = "test") -> list[LabelledText]:
    """The examples of ``split`` as messages labelled with their intent."""
    return [
        LabelledText(text, intent.name)
        for intent in sample_intents(split)
        for text in intent.examples
    ]


def sample_out_of_domain() -> list[str]:
    """Messages with no intent of the shop's (none of them among the classifier's own
    out-of-domain examples): a classifier should answer None for them."""
    return list(_json("intents.json")["out_of_domain_test"])


def sample_sentiment() -> list[LabelledText]:
    """Customer messages labelled negative, neutral or positive."""
    return [LabelledText(m["text"], m["label"]) for m in _json("sentiment.json")]
