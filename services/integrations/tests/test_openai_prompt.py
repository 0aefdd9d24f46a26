"""AI Generate's request without the model: the system prompt with its rules and numbered
sources, which passages the answer cited, and OpenAI's errors typed."""

from __future__ import annotations

import httpx
import openai
from integrations.providers.openai import _citations, _error, system_prompt

SOURCES = [
    {
        "n": 1,
        "documentId": "doc_a",
        "title": "Returns",
        "text": "Returns within  30 days.",
        "score": 0.8,
    },
    {"n": 2, "documentId": "doc_b", "title": None, "text": "Shipping is free.", "score": 0.4},
]


def test_the_system_prompt_carries_tone_language_and_sources() -> None:
    ai = {
        "systemPrompt": "You are Acme's bot.",
        "tone": "concise",
        "language": {"default": "de", "allowed": ["de", "en"]},
    }
    prompt = system_prompt({}, ai, SOURCES)
    assert prompt.startswith("You are Acme's bot.")
    assert "few words" in prompt and "one of de, en; otherwise in de" in prompt
    assert "[1] (Returns) Returns within 30 days." in prompt and "[2] (doc_b) Shipping" in prompt
    assert "cite" in prompt
    node_wins = system_prompt({"systemPrompt": "Be a pirate."}, ai, [])
    assert node_wins.startswith("Be a pirate.") and "Sources" not in node_wins
    fixed = system_prompt({}, {"language": {"default": "fr", "matchCustomer": False}}, [])
    assert "Always answer in fr." in fixed


def test_citations_say_which_passages_the_answer_cited() -> None:
    cited = _citations(SOURCES, "Within 30 days [1].")
    assert [(c["n"], c["cited"]) for c in cited] == [(1, True), (2, False)]
    assert cited[0]["excerpt"] == "Returns within 30 days."


def _status_error(
    kind: type[openai.APIStatusError], status: int, body: dict, headers: dict | None = None
) -> openai.APIStatusError:
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    response = httpx.Response(status, request=request, headers=headers or {}, json={"error": body})
    return kind(body["message"], response=response, body=body)


def test_errors_are_typed_and_keys_masked() -> None:
    key = "sk-secret-abcdefghijklmnop"
    limited = _error(
        _status_error(
            openai.RateLimitError,
            429,
            {"message": "Rate limit reached", "code": "rate_limit_exceeded"},
            {"retry-after": "2"},
        ),
        key,
    )
    assert (limited.error_type, limited.retry_after, limited.transient) == (
        "RateLimited",
        2.0,
        True,
    )
    quota = _error(
        _status_error(
            openai.RateLimitError,
            429,
            {"message": "You exceeded your quota", "code": "insufficient_quota"},
        ),
        key,
    )
    assert quota.error_type == "Forbidden" and not quota.transient
    refused = _error(
        _status_error(
            openai.AuthenticationError,
            401,
            {"message": f"Incorrect API key provided: {key}", "code": "invalid_api_key"},
        ),
        key,
    )
    assert refused.error_type == "Unauthorized" and key not in str(refused)
    down = _error(_status_error(openai.InternalServerError, 503, {"message": "overloaded"}), key)
    assert down.error_type == "Unavailable" and down.transient
