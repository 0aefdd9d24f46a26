import itertools
import re

import pytest
from knowledge.chunking import Chunk, chunk_text
from knowledge.documents import text_of
from knowledge.samples import sample_documents

SENTENCES = [
    f"Sentence number {n} says something about parcel {n * 7} and its delivery." for n in range(60)
]


def paragraphs(sentences_each: int, count: int) -> str:
    it = iter(SENTENCES)
    return "\n\n".join(" ".join(next(it) for _ in range(sentences_each)) for _ in range(count))


def test_offsets_point_at_the_chunk_text() -> None:
    text = paragraphs(4, 10)
    chunks = chunk_text(text, size=400, overlap=80)
    assert len(chunks) > 3
    for seq, chunk in enumerate(chunks):
        assert chunk.seq == seq
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= 400
        assert chunk.text == chunk.text.strip()
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)


def test_consecutive_chunks_share_whole_sentences() -> None:
    text = " ".join(SENTENCES[:30])  # one long paragraph
    chunks = chunk_text(text, size=500, overlap=150)
    for previous, chunk in itertools.pairwise(chunks):
        shared = text[chunk.start : previous.end]
        assert chunk.start < previous.end, "no overlap"
        assert 75 <= len(shared) <= 150
        assert shared.startswith("Sentence number") and shared.endswith("delivery.")
        assert previous.text.endswith(shared) and chunk.text.startswith(shared)


def test_a_paragraph_break_is_preferred_to_a_sentence_end() -> None:
    text = paragraphs(3, 6)  # paragraphs of about 220 characters
    for chunk in chunk_text(text, size=600, overlap=0):
        assert chunk.text.endswith("delivery.")
        following = text[chunk.end : chunk.end + 2]
        assert following in ("\n\n", ""), f"chunk ends inside a paragraph: {chunk.text[-30:]!r}"


def test_words_are_never_cut_and_a_long_word_stands_alone() -> None:
    long_word = "x" * 120
    text = f"short words first {long_word} and then some more short words to finish"
    chunks = chunk_text(text, size=50, overlap=10)
    assert Chunk(chunks[1].seq, long_word, 18, 138, None) in chunks
    words = set(text.split())
    for chunk in chunks:
        assert set(chunk.text.split()) <= words


def test_headings_name_the_section_a_chunk_starts_in() -> None:
    markdown = (
        "# Shipping\n\nWe ship from Colorado.\n\n"
        "## Delivery options and prices\n\n" + " ".join(SENTENCES[:12]) + "\n\n"
        "## Alaska and Hawaii\n\nWe ship there with USPS only. It takes 5 to 10 days.\n\n"
        "- item one\n- item two without a full stop\n\nThe end."
    )
    text = text_of("markdown", markdown)
    chunks = chunk_text(text, size=300, overlap=60)
    by_heading = {c.heading for c in chunks}
    assert by_heading == {"Shipping", "Delivery options and prices", "Alaska and Hawaii"}
    # a section starts a fresh chunk under its own heading, not the tail of the one before
    alaska = next(c for c in chunks if c.heading == "Alaska and Hawaii")
    assert alaska.text.startswith("Alaska and Hawaii")
    # a list item or a short closing line is not a heading
    assert chunks[-1].heading == "Alaska and Hawaii"


def test_sentence_like_lines_are_not_headings() -> None:
    text = "Intro text here.\n\nThis line ends like a sentence.\n\nMore text follows here."
    chunks = chunk_text(text, size=40, overlap=0)
    assert [c.text for c in chunks] == text.split("\n\n")
    assert {c.heading for c in chunks} == {None}


def test_empty_text_has_no_chunks_and_sizes_are_checked() -> None:
    assert chunk_text("  \n\n ") == []
    assert chunk_text("One sentence.") == [Chunk(0, "One sentence.", 0, 13, None)]
    with pytest.raises(ValueError, match="size > overlap"):
        chunk_text("text", size=100, overlap=100)
    with pytest.raises(ValueError, match="size > overlap"):
        chunk_text("text", size=100, overlap=-1)


def test_the_sample_help_centre_chunks_cleanly() -> None:
    for name, format, content in sample_documents():
        text = text_of(format, content)
        chunks = chunk_text(text)
        assert chunks[0].heading is not None, name
        covered = " ".join(text[c.start : c.end] for c in chunks)
        assert set(re.findall(r"\w+", text)) == set(re.findall(r"\w+", covered)), name
        assert all(len(c.text) <= 800 for c in chunks)
