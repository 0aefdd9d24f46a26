"""The sandbox's OpenAI-compatible API driven by the official openai SDK, in-process (the app on
an ASGI transport): deterministic answers from numbered sources, structured outputs, the
Responses API, embeddings (base64 by default), OpenAI's refusals and the SDK's retries."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import httpx
import openai
import pytest
from fastapi import FastAPI
from provider_sandbox.app import create_app
from provider_sandbox.settings import SandboxSettings
from pydantic import BaseModel

KEY = "sk-proj-sandbox0123456789abcdefWXYZ"
BASE_URL = "http://sandbox/openai/v1"
SOURCES = (
    "Answer from the sources and cite them.\n"
    "[1] (Shipping) Orders ship within two business days. Tracking arrives by email.\n"
    "[2] (Returns) Returns are free within 30 days of delivery. Refunds reach your card in"
    " five days.\n"
    "[3] (Warranty) Mugs carry a one-year warranty against cracks."
)
Client = Callable[..., openai.AsyncOpenAI]


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """One app for the module (building it takes a while); its OpenAI part needs no lifespan."""
    return create_app(SandboxSettings())


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    app.state.openai.reset()
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        yield http


@pytest.fixture
def client_for(http: httpx.AsyncClient) -> Client:
    """client_for(key=KEY, **AsyncOpenAI kwargs): the SDK, its base_url on the sandbox."""

    def client(key: str = KEY, **kwargs: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(api_key=key, base_url=BASE_URL, http_client=http, **kwargs)

    return client


@pytest.fixture
def client(client_for: Client) -> openai.AsyncOpenAI:
    return client_for(max_retries=0)


async def ask(client: openai.AsyncOpenAI, question: str, system: str = SOURCES, **kw: Any) -> Any:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    return await client.chat.completions.create(model="gpt-4o-mini", messages=messages, **kw)


async def test_a_chat_completion_answers_from_the_best_source_with_its_citation(client) -> None:
    completion = await ask(client, "Are returns free, and for how many days after delivery?")

    choice = completion.choices[0]
    assert choice.message.content == "Returns are free within 30 days of delivery. [2]"
    assert (choice.finish_reason, choice.message.role, choice.message.refusal) == (
        "stop",
        "assistant",
        None,
    )
    assert completion.id.startswith("chatcmpl-") and completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini-2024-07-18"
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert usage.prompt_tokens_details.cached_tokens == 0
    unknown = await ask(client, "Do you sell gift cards?")
    assert unknown.choices[0].message.content == (
        "I don't know the answer to that from the sources I have."
    )
    inline = await ask(client, f"{SOURCES}\n\nWhen does my order ship?", system="Be brief.")
    assert inline.choices[0].message.content == "Orders ship within two business days. [1]"


async def test_without_sources_it_echoes_and_max_tokens_cuts_the_answer(client) -> None:
    echoed = await ask(client, "Where is my parcel?", system="You are Acme's assistant.")
    assert echoed.choices[0].message.content == "You said: Where is my parcel?"
    cut = await ask(client, "x " * 300, system="Be brief.", max_tokens=3, n=2)
    assert [c.finish_reason for c in cut.choices] == ["length", "length"]
    assert len(cut.choices[0].message.content) <= 12
    assert cut.usage.completion_tokens <= 6


class Ticket(BaseModel):
    email: str
    order_number: str
    urgent: bool
    category: Literal["billing", "shipping", "returns"]
    quantity: int
    answer: str


async def test_structured_outputs_parse_into_a_pydantic_model(client) -> None:
    message = (
        "Hi, my order number is 1042 and my email is ana@example.com. The shipping is late,"
        " urgent: yes, quantity: 3"
    )
    parsed = await client.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": message}],
        response_format=Ticket,
    )

    ticket = parsed.choices[0].message.parsed
    assert ticket == Ticket(
        email="ana@example.com",
        order_number="1042",
        urgent=True,
        category="shipping",
        quantity=3,
        answer=f"You said: {message}",
    )


async def test_json_modes_are_checked_as_openai_checks_them(client) -> None:
    loose = {"type": "object", "properties": {"city": {"type": "string"}}}
    with pytest.raises(openai.BadRequestError) as refused:
        await ask(
            client,
            "city: Paris",
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "place", "schema": loose, "strict": True},
            },
        )
    assert refused.value.code == "invalid_json_schema"
    assert "'additionalProperties' is required" in refused.value.message
    lenient = await ask(
        client,
        "city: Paris",
        system="Be brief.",
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "place", "schema": loose},
        },
    )
    assert lenient.choices[0].message.content == '{"city": "Paris"}'
    with pytest.raises(openai.BadRequestError) as no_json_word:
        await ask(client, "hi", system="Be brief.", response_format={"type": "json_object"})
    assert no_json_word.value.param == "messages"
    as_json = await ask(
        client, "hi, answer in JSON", system="x", response_format={"type": "json_object"}
    )
    assert as_json.choices[0].message.content == '{"answer": "You said: hi, answer in JSON"}'


async def test_the_responses_api_answers_output_text(client) -> None:
    response = await client.responses.create(
        model="gpt-4.1-mini", instructions=SOURCES, input="Is there a warranty on mugs?"
    )

    assert response.output_text == "Mugs carry a one-year warranty against cracks. [3]"
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.usage.total_tokens == response.usage.input_tokens + (
        response.usage.output_tokens
    )
    followed = await client.responses.create(
        model="gpt-4o-mini",
        previous_response_id=response.id,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Thanks!"}]}],
    )
    assert followed.output_text == "You said: Thanks!"
    assert (await client.responses.retrieve(response.id)).output_text == response.output_text

    class Reply(BaseModel):
        email: str

    parsed = await client.responses.parse(
        model="gpt-4o-mini", input="Reach me at cy@example.com please", text_format=Reply
    )
    assert parsed.output_parsed == Reply(email="cy@example.com")


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


async def test_embeddings_base64_by_default_and_float_are_the_same_vectors(client, http) -> None:
    texts = [
        "refund for my broken mug",
        "how do I get a refund for broken mugs",
        "the weather in Paris is sunny",
    ]
    by_default = await client.embeddings.create(model="text-embedding-3-small", input=texts)
    as_floats = await client.embeddings.create(
        model="text-embedding-3-small", input=texts, encoding_format="float"
    )
    smaller = await client.embeddings.create(
        model="text-embedding-3-large", input=texts[0], dimensions=256
    )

    vectors = [d.embedding for d in by_default.data]
    assert [len(v) for v in vectors] == [1536, 1536, 1536]
    assert all(isinstance(x, float) for x in vectors[0])
    assert vectors == [d.embedding for d in as_floats.data]
    assert cosine(vectors[0], vectors[1]) > 0.5 > cosine(vectors[0], vectors[2])
    assert math.isclose(cosine(vectors[0], vectors[0]), 1.0, rel_tol=1e-5)
    assert len(smaller.data[0].embedding) == 256 and smaller.model == "text-embedding-3-large"
    assert by_default.usage.prompt_tokens == by_default.usage.total_tokens > 0
    sent = (await http.get("/sandbox/openai/requests", params={"path": "embeddings"})).json()
    assert [r["body"]["encoding_format"] for r in sent["requests"]][:2] == ["base64", "float"]


async def test_keys_missing_malformed_or_revoked_are_refused_401(client_for, http) -> None:
    missing = await http.post("/openai/v1/chat/completions", json={"model": "gpt-4o-mini"})
    assert missing.status_code == 401
    error = missing.json()["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)

    with pytest.raises(openai.AuthenticationError) as malformed:
        await client_for("sk-too-short-xyz1", max_retries=0).models.list()
    assert malformed.value.code == "invalid_api_key"
    assert malformed.value.body["message"] == (  # type: ignore[index]
        "Incorrect API key provided: sk-too-s*****xyz1. You can find your API key at"
        " https://platform.openai.com/account/api-keys."
    )

    assert (await client_for(max_retries=0).models.list()).data
    revoked = await http.post("/sandbox/openai/keys/revoke", json={"key": KEY})
    assert revoked.json() == {"revoked": True, "key_last4": "WXYZ"}
    with pytest.raises(openai.AuthenticationError):
        await client_for(max_retries=0).models.list()


async def test_openais_refusals_of_a_request(client) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        await client.chat.completions.create(
            model="gpt-9", messages=[{"role": "user", "content": "hi"}]
        )
    assert unknown.value.code == "model_not_found"
    assert unknown.value.body["message"] == (  # type: ignore[index]
        "The model `gpt-9` does not exist or you do not have access to it."
    )
    with pytest.raises(openai.BadRequestError) as too_hot:
        await ask(client, "hi", temperature=3)
    assert (too_hot.value.param, too_hot.value.code) == ("temperature", "decimal_above_max_value")
    assert "Expected a value <= 2, but got 3 instead." in too_hot.value.message
    with pytest.raises(openai.BadRequestError) as bad_role:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "bot", "content": "hi"}]
        )
    assert (bad_role.value.param, bad_role.value.code) == ("messages[0].role", "invalid_value")
    with pytest.raises(openai.BadRequestError) as tokens:
        await client.embeddings.create(model="text-embedding-3-small", input="")
    assert "'$.input' is invalid" in tokens.value.message
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("text-embedding-4")


async def test_injected_failures_raise_the_sdks_errors_with_openais_headers(client, http) -> None:
    await http.post("/sandbox/openai/failures", json={"status": 429, "count": 1, "retry_after": 2})
    await http.post("/sandbox/openai/failures", json={"status": 500, "path": "embeddings"})

    with pytest.raises(openai.RateLimitError) as limited:
        await ask(client, "hi")
    answer = limited.value.response
    assert (limited.value.code, limited.value.type) == ("rate_limit_exceeded", "requests")
    assert "Rate limit reached for gpt-4o-mini" in limited.value.message
    assert "Please try again in 2s." in limited.value.message
    assert answer.headers["retry-after"] == "2"
    assert answer.headers["x-ratelimit-remaining-requests"] == "0"
    assert answer.headers["x-ratelimit-limit-requests"] and answer.headers["x-request-id"]
    assert (await ask(client, "hi")).choices[0].message.content  # the chat failure is spent
    with pytest.raises(openai.InternalServerError) as failed:
        await client.embeddings.create(model="text-embedding-3-small", input="hi")
    assert failed.value.type == "server_error"


async def test_the_sdk_retries_a_429_after_its_retry_after(client_for, http) -> None:
    await http.post(
        "/sandbox/openai/failures", json={"status": 429, "count": 1, "retry_after": 0.05}
    )
    started = time.monotonic()

    completion = await ask(client_for(max_retries=2), "hi", system="Be brief.")

    assert completion.choices[0].message.content == "You said: hi"
    assert time.monotonic() - started >= 0.05
    received = (await http.get("/sandbox/openai/requests")).json()["requests"]
    assert [r["status"] for r in received] == [429, 200]


async def test_a_requests_per_minute_limit_answers_429(client, http) -> None:
    await http.post("/sandbox/openai/limits", json={"requests_per_minute": 2})
    first = await client.models.with_raw_response.list()
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    await client.models.list()
    with pytest.raises(openai.RateLimitError) as limited:
        await client.models.list()
    assert 1 <= int(limited.value.response.headers["retry-after"]) <= 60


async def test_markers_make_an_empty_or_a_slow_answer(client) -> None:
    empty = await ask(client, "[[sandbox:empty]] Where is my order?", system="x")
    assert empty.choices[0].message.content == ""
    assert empty.usage.completion_tokens == 0
    started = time.monotonic()
    slow = await ask(client, "Hello", system="[[sandbox:slow=150]]")
    assert time.monotonic() - started >= 0.15
    assert slow.choices[0].message.content == "You said: Hello"


async def test_a_streamed_completion_is_the_same_answer_in_chunks(client) -> None:
    stream = await ask(
        client, "When does my order ship?", stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Orders ship within two business days. [1]"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def test_a_required_tool_is_called_with_arguments_from_the_message(client) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
                "additionalProperties": False,
            },
        },
    }
    completion = await ask(
        client, "Where is order #1042?", system="x", tools=[tool], tool_choice="required"
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("lookup_order", '{"order_id": "1042"}')


async def test_inspection_records_requests_without_the_key(client, http) -> None:
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-request-id"].startswith("req_")
    assert int(raw.headers["openai-processing-ms"]) >= 0
    unknown = await http.post("/openai/v1/nothing", json={})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Invalid URL (POST /v1/nothing)"

    listed = await http.get("/sandbox/openai/requests")
    first = listed.json()["requests"][0]
    assert KEY not in listed.text and KEY[8:-4] not in listed.text
    assert (first["endpoint"], first["model"], first["key_last4"], first["status"]) == (
        "chat/completions",
        "gpt-4o-mini",
        "WXYZ",
        200,
    )
    assert first["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert first["request_id"] == raw.headers["x-request-id"]
    await http.delete("/sandbox/openai/requests")
    assert (await http.get("/sandbox/openai/requests")).json() == {"requests": []}
    await http.post("/sandbox/openai/keys/revoke", json={"key": KEY})
    await http.post("/sandbox/openai/reset")
    assert (await client.models.list()).data


def test_the_sync_sdk_works_over_real_http(sandbox_server) -> None:
    client = openai.OpenAI(api_key=KEY, base_url=f"{sandbox_server.url}/openai/v1")
    completion = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "ping"}]
    )
    assert completion.choices[0].message.content == "You said: ping"
    embedded = client.embeddings.create(model="text-embedding-3-small", input="ping")
    assert len(embedded.data[0].embedding) == 1536
    client.close()
