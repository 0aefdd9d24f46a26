"""The sandbox's deterministic model: what it answers to a conversation (README, "OpenAI").

1. Numbered sources (`[1] text` or `[1] (Title) text` lines in system, developer or user
   content): the source sharing the most words (lower-case, not stemmed, stopwords ignored)
   with the last user message answers with its best-matching sentence (and the next best when
   that shares at least half as many words) followed by its marker ("... [2]"); no word
   shared by any source: "I don't know the answer to that from the sources I have."
2. Otherwise an echo: "You said: <the last user message, its first 200 characters>".
Structured formats wrap that text: `json_object` as `{"answer": text}`, `json_schema` as an
object valid against the schema (`structured.py`). `[[sandbox:empty]]` makes the answer "",
`[[sandbox:slow=<ms>]]` delays it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .formats import AnswerFormat
from .structured import filled
from .text import content_words

SOURCE = re.compile(r"^[ \t]*\[(\d{1,3})\][ \t]*(?:\(([^)\n]*)\)[ \t]*)?(\S.*)$", re.MULTILINE)
MARKER = re.compile(r"\[\[sandbox:(empty|slow=(\d{1,7}))\]\]")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
DONT_KNOW = "I don't know the answer to that from the sources I have."
ECHO_CHARS = 200
MAX_DELAY_MS = 600_000
INSTRUCTING = ("system", "developer", "user")


@dataclass(frozen=True)
class Source:
    number: int
    title: str
    text: str


@dataclass(frozen=True)
class Conversation:
    """The text of each turn, by role, oldest first."""

    turns: tuple[tuple[str, str], ...]

    def instructing(self) -> list[str]:
        return [text for role, text in self.turns if role in INSTRUCTING]

    @property
    def question(self) -> str:
        """The last user message without its source lines and sandbox markers."""
        last = next((text for role, text in reversed(self.turns) if role == "user"), "")
        return MARKER.sub("", SOURCE.sub("", last)).strip()

    @property
    def sources(self) -> list[Source]:
        return [
            Source(int(m.group(1)), (m.group(2) or "").strip(), m.group(3).strip())
            for text in self.instructing()
            for m in SOURCE.finditer(text)
        ]

    @property
    def empty(self) -> bool:
        return any(m.group(1) == "empty" for t in self.instructing() for m in MARKER.finditer(t))

    @property
    def delay_ms(self) -> int:
        delays = [
            int(m.group(2)) for t in self.instructing() for m in MARKER.finditer(t) if m.group(2)
        ]
        return min(max(delays, default=0), MAX_DELAY_MS)


def cited(sources: list[Source], question: str) -> str:
    asked = content_words(question)
    best, score = None, 0
    for source in sources:
        overlap = len(asked & content_words(f"{source.title} {source.text}"))
        if overlap > score:
            best, score = source, overlap
    if best is None:
        return DONT_KNOW
    sentences = [s.strip() for s in SENTENCE_END.split(best.text) if s.strip()]
    shared = [len(asked & content_words(sentence)) for sentence in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (-shared[i], i))
    chosen = ranked[:1]
    if len(ranked) > 1 and shared[ranked[1]] > 0 and 2 * shared[ranked[1]] >= shared[ranked[0]]:
        chosen.append(ranked[1])  # a second sentence when it shares half as many words
    return " ".join(sentences[i] for i in sorted(chosen)) + f" [{best.number}]"


def text_answer(conversation: Conversation) -> str:
    sources = conversation.sources
    if sources:
        return cited(sources, conversation.question)
    return f"You said: {conversation.question[:ECHO_CHARS]}"


def answer(conversation: Conversation, form: AnswerFormat) -> str:
    """The reply's content in the requested format."""
    if conversation.empty:
        return ""
    text = text_answer(conversation)
    if form.type == "json_object":
        return json.dumps({"answer": text})
    if form.type == "json_schema" and form.schema is not None:
        return json.dumps(filled(form.schema, conversation.question, text))
    return text
