"""A document's text cut into passages small enough to retrieve and to quote.

A chunk ends where the text breaks most naturally within ``size`` characters: before a
heading (once the chunk holds a quarter of ``size``), else at a paragraph break (from half
of ``size``), else at the end of a sentence or line (from a quarter), else between words.
The next chunk starts with about ``overlap`` characters of the end of the previous one (whole
sentences when they make at least half of ``overlap``, else whole words), so a fact cut at a
chunk's end is whole in one of the two; a chunk that ends before a heading is not overlapped,
so a new section starts a fresh chunk under its own heading."""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

MAX_HEADING = 80
"""Longest line (in characters) taken for a heading."""

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")
_HEADING_END = re.compile(r"[.,;:!\u2026]$")  # a question can be a heading (FAQ style)
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")

# How strongly the text breaks before a word, weakest to strongest.
_WORD_BREAK, _SENTENCE_BREAK, _PARAGRAPH_BREAK, _SECTION_BREAK = 1, 2, 3, 4


@dataclass(frozen=True)
class Chunk:
    """One passage: ``text`` is ``source[start:end]`` of the text given to ``chunk_text``;
    ``heading`` the nearest heading line at or above ``start``."""

    seq: int
    text: str
    start: int
    end: int
    heading: str | None


def chunk_text(text: str, *, size: int = 800, overlap: int = 150) -> list[Chunk]:
    """``text`` in chunks of at most ``size`` characters (a single longer word is a chunk of
    its own), consecutive chunks sharing about ``overlap`` characters; numbered from 0."""
    if not size > overlap >= 0:
        raise ValueError(f"need size > overlap >= 0 (size={size}, overlap={overlap})")
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not words:
        return []
    headings = _headings(text)
    heading_starts = [start for start, _ in headings]
    breaks = _breaks(text, words, set(heading_starts))
    chunks: list[Chunk] = []
    first = 0
    while True:
        last = _last_word(words, breaks, first, size)
        start, end = words[first][0], words[last][1]
        above = bisect.bisect_right(heading_starts, start) - 1
        heading = headings[above][1] if above >= 0 else None
        chunks.append(Chunk(len(chunks), text[start:end], start, end, heading))
        if last == len(words) - 1:
            return chunks
        following = _overlap_start(words, breaks, first, last, overlap)
        if _last_word(words, breaks, following, size) <= last:  # no progress: drop the overlap
            following = last + 1
        first = following


def _headings(text: str) -> list[tuple[int, str]]:
    """(start, line) of every heading: a short line standing alone as a paragraph (a blank
    line or the start of the text above, a blank line below) that does not end like a
    sentence or a clause."""
    lines: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        lines.append((offset, line))
        offset += len(line) + 1
    found: list[tuple[int, str]] = []
    for i, (start, line) in enumerate(lines):
        title = line.strip()
        if not title or len(title) > MAX_HEADING or _HEADING_END.search(title):
            continue
        blank_above = i == 0 or not lines[i - 1][1].strip()
        blank_below = i + 2 < len(lines) and not lines[i + 1][1].strip()
        if blank_above and blank_below:
            found.append((start + line.index(title), title))
    return found


def _breaks(text: str, words: list[tuple[int, int]], heading_starts: set[int]) -> list[int]:
    """For each word, how strongly the text breaks before it (the first word: a section)."""
    breaks = [_SECTION_BREAK]
    for (previous_start, previous_end), (start, _) in itertools.pairwise(words):
        gap = text[previous_end:start]
        if _BLANK_LINE.search(gap):
            breaks.append(_SECTION_BREAK if start in heading_starts else _PARAGRAPH_BREAK)
        elif "\n" in gap or _SENTENCE_END.search(text[previous_start:previous_end]):
            breaks.append(_SENTENCE_BREAK)
        else:
            breaks.append(_WORD_BREAK)
    return breaks


def _last_word(words: list[tuple[int, int]], breaks: list[int], first: int, size: int) -> int:
    """The last word of the chunk that starts with word ``first``."""
    start = words[first][0]
    fits = first
    while fits + 1 < len(words) and words[fits + 1][1] - start <= size:
        fits += 1
    if fits == len(words) - 1:
        return fits
    preferences = ((_SECTION_BREAK, size // 4), (_PARAGRAPH_BREAK, size // 2))
    for strength, shortest in (*preferences, (_SENTENCE_BREAK, size // 4)):
        for last in range(fits, first, -1):
            if words[last][1] - start < shortest:
                break
            if breaks[last + 1] >= strength:
                return last
    return fits


def _overlap_start(
    words: list[tuple[int, int]], breaks: list[int], first: int, last: int, overlap: int
) -> int:
    """The first word of the chunk after the one of words ``first`` to ``last``."""
    if breaks[last + 1] == _SECTION_BREAK or overlap == 0:
        return last + 1
    end = words[last][1]
    shared = [i for i in range(first + 1, last + 1) if end - words[i][0] <= overlap]
    sentences = [i for i in shared if breaks[i] >= _SENTENCE_BREAK]
    if sentences and end - words[sentences[0]][0] >= overlap // 2:
        return sentences[0]
    return shared[0] if shared else last + 1
