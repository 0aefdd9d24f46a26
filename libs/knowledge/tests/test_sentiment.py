import pytest
from knowledge.sentiment import MAX_CHARACTERS, Sentiment, sentiment_of


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Thank you so much, the boots are amazing!", "positive"),
        ("My order is two weeks late and nobody answers. Terrible service.", "negative"),
        ("Where is my order AO10482237?", "neutral"),
        ("The jacket is not bad at all.", "positive"),
    ],
)
def test_labels_follow_the_compound_score(text: str, label: str) -> None:
    result = sentiment_of(text)
    assert result.label == label
    if label == "positive":
        assert result.score >= 0.05
    elif label == "negative":
        assert result.score <= -0.05
    else:
        assert -0.05 < result.score < 0.05


def test_the_shares_add_up() -> None:
    result = sentiment_of("I love the tent but the delivery was awful.")
    assert -1 <= result.score <= 1
    assert result.positive > 0 and result.negative > 0
    assert result.positive + result.negative + result.neutral == pytest.approx(1, abs=0.01)
    assert sentiment_of("") == Sentiment(0.0, "neutral", 0.0, 0.0, 0.0)


def test_a_long_text_is_scored_on_its_beginning() -> None:
    opening = "This is the worst experience I have ever had. " * 10
    long = opening.ljust(MAX_CHARACTERS) + "I love it, wonderful, amazing, perfect! " * 100
    assert sentiment_of(long) == sentiment_of(long[:MAX_CHARACTERS])
    assert sentiment_of(long).label == "negative"
