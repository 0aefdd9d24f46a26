import time

import numpy as np
import pytest
from knowledge.intents import IntentClassifier, IntentExample, IntentGuess, out_of_domain
from knowledge.samples import sample_intents

REFUND = IntentExample(
    "refund_request",
    "The customer wants their money back.",
    (
        "I want a refund",
        "can I get my money back",
        "please refund my order",
        "where is my refund?",
        "refund me for the broken boots",
        "I'd like to be reimbursed",
    ),
)


@pytest.fixture(scope="module")
def shop() -> IntentClassifier:
    return IntentClassifier.train(sample_intents("train"))


def test_one_declared_intent_is_told_from_anything_else() -> None:
    classifier = IntentClassifier.train([REFUND])
    guess = classifier.classify("can you refund me the money for this order")
    assert guess.intent == "refund_request"
    assert guess.confidence > 0.5
    assert guess.ranking == (("refund_request", guess.confidence),)
    for other in ("hello there!", "thanks, bye", "what's the weather tomorrow"):
        guess = classifier.classify(other)
        assert guess.intent is None, other
        assert guess.confidence > 0.5
        assert guess.ranking[0][1] == pytest.approx(1 - guess.confidence)


def test_many_intents_rank_the_three_likeliest(shop: IntentClassifier) -> None:
    assert shop.intents == tuple(i.name for i in sample_intents("train"))
    examples = {
        "where is my parcel, it should have come yesterday": "order_status",
        "please cancel my order, I ordered twice": "cancel_order",
        "how much does delivery to Alaska cost": "shipping_cost",
        "I typed the wrong street in my shipping address": "change_address",
    }
    for text, intent in examples.items():
        guess = shop.classify(text)
        assert guess.intent == intent, text
        assert len(guess.ranking) == 3
        assert guess.ranking[0] == (intent, guess.confidence)
        assert [p for _, p in guess.ranking] == sorted((p for _, p in guess.ranking), reverse=True)
    assert shop.classify("good morning!").intent is None


def test_a_declared_greeting_is_not_taught_as_none() -> None:
    greeting = IntentExample("greeting", "", ("hi", "hello there", "good morning", "hey"))
    classifier = IntentClassifier.train([greeting, REFUND])
    assert classifier.classify("hello").intent == "greeting"
    assert classifier.classify("who won the game last night").intent is None


def test_training_is_deterministic() -> None:
    first, second = IntentClassifier.train([REFUND]), IntentClassifier.train([REFUND])
    for text in ("refund please", "hi", "my boots are broken"):
        assert first.classify(text) == second.classify(text)


def test_probabilities_are_scikit_learns(shop: IntentClassifier) -> None:
    from knowledge.intents import REGULARISATION, _training_set
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    texts, labels = _training_set(sample_intents("train"))
    pipeline = make_pipeline(
        make_union(
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
        ),
        LogisticRegression(
            C=REGULARISATION, class_weight="balanced", max_iter=2000, random_state=0
        ),
    ).fit(texts, labels)
    messages = ["my tent leaked, I want my money back", "", "zzzz", "Is this jacket warm?"]
    for text, expected in zip(messages, pipeline.predict_proba(messages), strict=True):
        guess = shop.classify(text)
        best = int(np.argmax(expected))
        assert guess.confidence == pytest.approx(expected[best], abs=1e-6)
        ranked = sorted(enumerate(expected[:-1]), key=lambda item: -item[1])[:3]
        assert [p for _, p in guess.ranking] == pytest.approx([p for _, p in ranked], abs=1e-6)


def test_training_and_classifying_are_fast() -> None:
    intents = [
        IntentExample(
            f"intent_{i}",
            f"The customer asks about topic {i}.",
            tuple(f"question {j} about topic {i} and item {i * j}" for j in range(20)),
        )
        for i in range(10)
    ]
    IntentClassifier.train(intents[:2])  # scikit-learn's imports
    started = time.perf_counter()
    classifier = IntentClassifier.train(intents)
    assert time.perf_counter() - started < 1.0
    started = time.perf_counter()
    for _ in range(200):
        classifier.classify("a question about topic 3 and item 12")
    assert (time.perf_counter() - started) / 200 < 0.002


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(ValueError, match="no intents"):
        IntentClassifier.train([])
    with pytest.raises(ValueError, match="distinct"):
        IntentClassifier.train([REFUND, REFUND])
    with pytest.raises(ValueError, match="neither a description nor examples"):
        IntentClassifier.train([IntentExample("empty", " ", ())])


def test_the_none_class_has_its_shipped_examples() -> None:
    phrases = out_of_domain()
    assert 50 <= len(phrases) <= 80
    assert "what is the capital of France" in phrases
    assert not any(p.startswith("#") for p in phrases)
    assert isinstance(IntentClassifier.train([REFUND]).classify("x"), IntentGuess)
