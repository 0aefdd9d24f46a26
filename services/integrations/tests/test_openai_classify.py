"""The openai classification engine's request through the official SDK, answered by the
provider sandbox's OpenAI in-process (structured output against a strict schema)."""

from __future__ import annotations

import httpx
import openai
import pytest
from integrations.domain.operations import IntegrationError
from integrations.providers.openai import (
    _classify,
    classification_prompt,
    classification_schema,
)
from provider_sandbox.app import create_app
from provider_sandbox.settings import SandboxSettings

INTENTS = [
    {
        "name": "refund_request",
        "description": "The customer wants their money back",
        "examples": ["I want a refund", "money back please", "a", "b", "c", "six", "seven"],
    },
    {"name": "order_status", "description": "", "examples": ["where is my order"]},
]


@pytest.fixture
async def client():
    app = create_app(SandboxSettings.from_env())
    async with app.router.lifespan_context(app):
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        yield openai.AsyncOpenAI(
            api_key="sk-test-0123456789abcdefghij",
            base_url="http://sandbox/openai/v1",
            http_client=http,
            max_retries=0,
        )
        await http.aclose()


def test_the_prompt_lists_each_intent_with_a_few_examples_and_the_schema_is_strict() -> None:
    prompt = classification_prompt(INTENTS)
    assert "- refund_request: The customer wants their money back" in prompt
    assert "- order_status\n  e.g. where is my order" in prompt
    assert "e.g. c" in prompt and "e.g. six" not in prompt  # five examples at most
    schema = classification_schema(["refund_request", "order_status"])
    assert schema["properties"]["intent"]["enum"] == ["refund_request", "order_status", "none"]
    assert schema["additionalProperties"] is False and schema["required"] == [
        "intent",
        "confidence",
    ]


async def test_the_model_names_an_intent_with_its_confidence(client) -> None:
    said = await _classify(client, {"text": "refund_request, confidence: 0.92", "intents": INTENTS})
    assert said["intent"] == "refund_request" and said["confidence"] == 0.92
    assert said["model"].startswith("gpt-4o-mini") and said["usage"]["totalTokens"] > 0

    none = await _classify(client, {"text": "none of these, confidence 0.8", "intents": INTENTS})
    assert none["intent"] is None and none["confidence"] == 0.8


async def test_no_intents_is_invalid_before_any_request(client) -> None:
    with pytest.raises(IntegrationError) as refused:
        await _classify(client, {"text": "hi", "intents": [{"description": "no name"}]})
    assert refused.value.error_type == "Invalid"
