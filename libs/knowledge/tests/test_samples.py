import subprocess
import sys

from knowledge.documents import text_of
from knowledge.samples import (
    sample_documents,
    sample_intent_messages,
    sample_intents,
    sample_out_of_domain,
    sample_questions,
    sample_sentiment,
)


def test_the_help_centre_mixes_formats_of_a_realistic_length() -> None:
    documents = sample_documents()
    assert 10 <= len(documents) <= 14
    assert {format for _, format, _ in documents} == {"markdown", "html", "text"}
    for name, format, content in documents:
        assert 300 <= len(text_of(format, content).split()) <= 1500, name


def test_every_answer_is_in_its_document() -> None:
    texts = {name: text_of(format, content).lower() for name, format, content in sample_documents()}
    questions = sample_questions()
    answerable = [q for q in questions if q.document is not None]
    assert len(answerable) >= 40
    assert len(questions) - len(answerable) >= 5
    for q in answerable:
        assert q.answer_contains is not None
        assert q.answer_contains.lower() in texts[q.document], q.question


def test_the_intent_set_has_a_fixed_held_out_split() -> None:
    train, test = sample_intents("train"), sample_intent_messages("test")
    assert len(train) == 8
    assert all(len(i.examples) >= 20 and i.description for i in train)
    trained = {text for i in train for text in i.examples}
    assert not trained & {m.text for m in test}
    share = len(test) / (len(test) + len(trained))
    assert 0.25 <= share <= 0.35
    assert {m.label for m in test} == {i.name for i in train}
    assert len(sample_out_of_domain()) >= 5


def test_sentiment_messages_cover_the_three_labels() -> None:
    messages = sample_sentiment()
    assert len(messages) >= 60
    assert {m.label for m in messages} == {"negative", "neutral", "positive"}


def test_the_light_modules_do_not_import_scikit_learn() -> None:
    code = (
        "import sys\n"
        "import knowledge.chunking, knowledge.documents, knowledge.retrieval\n"
        "import knowledge.samples, knowledge.sentiment, knowledge.intents\n"
        "print(sorted(m for m in ('sklearn', 'bm25s', 'vaderSentiment') if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
