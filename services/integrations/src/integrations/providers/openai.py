"""OpenAI, through the official SDK (``openai``): AI Generate as a chat completion grounded in
the workflow's knowledge bases, and embeddings for hybrid retrieval.

Where it goes: the connection's ``base_url`` (+ ``/v1``: the provider sandbox, a proxy), else
``OPENAI_BASE_URL`` (the SDK's own variable, a full API root), else api.openai.com. One SDK
client per API root; the connection's key and the call's timeout are given per call
(``with_options``, which shares the client's connection pool). The SDK retries nothing
(``max_retries=0``): the service retries 429 and 5xx within the call's budget, honouring
``retry-after``.

``generate``: the system prompt (the node's, else the AI configuration's, with its tone and
language rules), the conversation's latest messages, the best passages of the attached
documents for the query as numbered sources the model is told to cite as ``[n]``, then the
prompt; with ``responseSchema`` the answer is structured output (``response_format``
json_schema) parsed into ``data``. When documents are attached and no passage reaches the
minimum score, the model is not asked: the answer is a ``fallback``.

``classify``: the tenant's declared intents (name, description, a few examples each) in the
system prompt and the customer's message as the user's, answered as structured output (a
strict JSON schema: ``intent``, one of the names or "none", and ``confidence`` from 0 to 1);
the executor asks for it over HTTP when the tenant's classification engine is ``openai``.

Errors, by the SDK's classes (https://platform.openai.com/docs/guides/error-codes):
AuthenticationError Unauthorized, PermissionDeniedError Forbidden, NotFoundError NotFound (an
unknown model), BadRequestError/UnprocessableEntityError Invalid, ConflictError Conflict,
RateLimitError RateLimited (but ``insufficient_quota``, which waiting does not cure: Forbidden),
InternalServerError and other 5xx Unavailable, APITimeoutError Timeout, APIConnectionError
Unavailable. Messages are OpenAI's with anything key-like masked."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import openai
from contracts.connections import Limits

from integrations.adapters.knowledge import KnowledgeReader
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection

Document = dict[str, Any]
logging.getLogger("openai").setLevel(logging.WARNING)
API = "https://api.openai.com/v1"
# Tier 1's gpt-4o-mini: 500 requests a minute (https://platform.openai.com/docs/guides/rate-limits)
LIMITS = Limits(rate=500, per_seconds=60, burst=50, concurrency=16)
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_SYSTEM = "You are a helpful, accurate customer support assistant."
_KEYISH = re.compile(r"\bsk-[A-Za-z0-9_*-]{4,}")
_CITED = re.compile(r"\[(\d{1,2})\]")
TONES = {
    "neutral": "Keep a neutral, factual tone.",
    "friendly": "Be warm and friendly.",
    "formal": "Use a formal, polite register.",
    "empathetic": "Acknowledge the customer's feelings before answering.",
    "concise": "Answer in as few words as the answer needs.",
}
_BY_ERROR: tuple[tuple[type[openai.APIError], str], ...] = (
    (openai.AuthenticationError, "Unauthorized"),
    (openai.PermissionDeniedError, "Forbidden"),
    (openai.NotFoundError, "NotFound"),
    (openai.BadRequestError, "Invalid"),
    (openai.UnprocessableEntityError, "Invalid"),
    (openai.ConflictError, "Conflict"),
    (openai.APITimeoutError, "Timeout"),
    (openai.APIConnectionError, "Unavailable"),
)


def _masked(text: str, key: str) -> str:
    text = text.replace(key, "****") if key else text
    return _KEYISH.sub("sk-****", text)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def _error(exc: openai.APIError, key: str) -> IntegrationError:
    message = "OpenAI: " + _masked(" ".join(str(exc.message).split()), key)
    status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
    if isinstance(exc, openai.RateLimitError):
        if exc.code == "insufficient_quota":
            return IntegrationError("Forbidden", message, status)
        return IntegrationError("RateLimited", message, status, _retry_after(exc))
    for kind, error_type in _BY_ERROR:
        if isinstance(exc, kind):
            return IntegrationError(error_type, message, status)
    if status is not None:
        return IntegrationError.from_status(status, message)
    return IntegrationError("Unavailable", message)


def _number(params: Mapping[str, Any], ai: Mapping[str, Any], name: str, ai_name: str) -> Any:
    value = params.get(name)
    return ai.get(ai_name) if value is None else value


def system_prompt(params: Mapping[str, Any], ai: Mapping[str, Any], sources: list[Document]) -> str:
    """The system message: the persona, its tone and language rules, and the numbered
    sources with how to cite them."""
    parts = [str(params.get("systemPrompt") or ai.get("systemPrompt") or DEFAULT_SYSTEM)]
    if tone := TONES.get(str(ai.get("tone") or "")):
        parts.append(tone)
    language = ai.get("language") or {}
    default = language.get("default") or "en"
    allowed = list(language.get("allowed") or [])
    if language.get("matchCustomer", True):
        among = f" when it is one of {', '.join(allowed)}" if allowed else ""
        parts.append(f"Answer in the customer's language{among}; otherwise in {default}.")
    else:
        parts.append(f"Always answer in {default}.")
    if sources:
        listed = "\n".join(
            f"[{p['n']}] ({p.get('title') or p['documentId']}) {' '.join(p['text'].split())}"
            for p in sources
        )
        parts.append(
            "Answer only from the sources below and cite each source you use as [n]. If they "
            "do not hold the answer, say you do not know.\n\nSources:\n" + listed
        )
    return "\n\n".join(parts)


class OpenAIClient:
    type = "openai"
    actions: Mapping[str, tuple[str, ...]] = {
        "generate": ("prompt",),
        "embed": ("input",),
        "classify": ("text", "intents"),
    }
    default_limits = LIMITS

    def __init__(
        self, knowledge: KnowledgeReader | None = None, default_base: str | None = None
    ) -> None:
        self._knowledge = knowledge
        self._default_base = default_base or os.environ.get("OPENAI_BASE_URL") or API
        self._clients: dict[str, openai.AsyncOpenAI] = {}

    def _client(self, connection: Connection, context: CallContext) -> openai.AsyncOpenAI:
        override = getattr(connection.config, "base_url", None)
        base = f"{str(override).rstrip('/')}/v1" if override else self._default_base
        client = self._clients.get(base)
        if client is None:
            # the key is each call's (with_options); this one is never sent
            client = self._clients[base] = openai.AsyncOpenAI(
                api_key="sk-unused", base_url=base, max_retries=0
            )
        return client.with_options(
            api_key=connection.secret("api_key"), timeout=context.seconds_for(connection)
        )

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        client = self._client(connection, context)
        key = connection.secret("api_key")
        try:
            if action == "generate":
                return await self._generate(client, connection, params)
            if action == "classify":
                return await _classify(client, params)
            if action == "embed":
                model = str(params.get("model") or "text-embedding-3-small")
                texts = params["input"] if isinstance(params["input"], list) else [params["input"]]
                answer = await client.embeddings.create(model=model, input=[str(t) for t in texts])
                return {
                    "model": answer.model,
                    "embeddings": [d.embedding for d in answer.data],
                    "usage": {"promptTokens": answer.usage.prompt_tokens},
                }
        except openai.APIError as exc:
            raise _error(exc, key) from None
        raise IntegrationError("Invalid", f"OpenAI has no action {action!r}")

    async def check(self, connection: Connection, context: CallContext) -> Document:
        client = self._client(connection, context)
        try:
            page = await client.models.list()
        except openai.APIError as exc:
            raise _error(exc, connection.secret("api_key")) from None
        return {"models": len(page.data)}

    async def _generate(
        self, client: openai.AsyncOpenAI, connection: Connection, params: Document
    ) -> Document:
        started = time.perf_counter()
        ai: Mapping[str, Any] = params.get("aiConfig") or {}
        retrieval: Mapping[str, Any] = ai.get("retrieval") or {}
        tools = ai.get("toolsAllowed")
        allowed = set(tools) if isinstance(tools, list) else None
        schema = params.get("responseSchema")
        if schema is not None and allowed is not None and "structured_output" not in allowed:
            raise IntegrationError(
                "Invalid", "the AI configuration does not allow structured_output"
            )
        history = await self._history(connection, params)
        query = str(
            params.get("query")
            or next((m["body"] for m in reversed(history) if m["direction"] == "inbound"), "")
            or params["prompt"]
        )
        document_ids = [str(d) for d in params.get("documentIds") or []]
        searching = bool(document_ids) and (allowed is None or "knowledge_search" in allowed)
        sources: list[Document] = []
        if searching:
            sources = await self._sources(client, connection, params, retrieval, query)
            if not sources:
                minimum = _number(params, retrieval, "minScore", "minScore") or 0.0
                return {
                    "text": "",
                    "fallback": True,
                    "reason": f"no passage of the attached documents reached {minimum}",
                    "query": query,
                    "citations": [],
                    "latencyMs": round((time.perf_counter() - started) * 1000, 1),
                }
        messages: list[Any] = [{"role": "system", "content": system_prompt(params, ai, sources)}]
        for m in history:
            role = "user" if m["direction"] == "inbound" else "assistant"
            messages.append({"role": role, "content": str(m["body"])})
        messages.append({"role": "user", "content": str(params["prompt"])})
        request: Document = {
            "model": str(params.get("model") or ai.get("model") or DEFAULT_MODEL),
            "messages": messages,
        }
        temperature = _number(params, ai, "temperature", "temperature")
        if temperature is not None:
            request["temperature"] = float(temperature)
        max_tokens = _number(params, ai, "maxTokens", "maxTokens")
        if max_tokens is not None:
            request["max_completion_tokens"] = int(max_tokens)
        if schema is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": False},
            }
        completion = await client.chat.completions.create(**request)
        choice = completion.choices[0] if completion.choices else None
        text = (choice.message.content if choice is not None else None) or ""
        result: Document = {
            "text": text,
            "model": completion.model,
            "finishReason": choice.finish_reason if choice is not None else None,
            "query": query if searching else None,
            "citations": _citations(sources, text),
            "latencyMs": round((time.perf_counter() - started) * 1000, 1),
        }
        if completion.usage is not None:
            result["usage"] = {
                "promptTokens": completion.usage.prompt_tokens,
                "completionTokens": completion.usage.completion_tokens,
                "totalTokens": completion.usage.total_tokens,
            }
        if schema is not None and text:
            try:
                result["data"] = json.loads(text)
            except ValueError:
                raise IntegrationError(
                    "BadResponse", "OpenAI: the structured answer is not JSON"
                ) from None
        return result

    async def _history(self, connection: Connection, params: Document) -> list[Document]:
        conversation = params.get("conversationId")
        count = int(params.get("recentMessages") or 0)
        if self._knowledge is None or not conversation or count <= 0:
            return []
        return await self._knowledge.recent_messages(connection.tenant_id, str(conversation), count)

    async def _sources(
        self,
        client: openai.AsyncOpenAI,
        connection: Connection,
        params: Document,
        retrieval: Mapping[str, Any],
        query: str,
    ) -> list[Document]:
        if self._knowledge is None:
            return []
        model = str(retrieval.get("embeddingModel") or "text-embedding-3-small")

        async def embed(texts: list[str]) -> list[list[float]]:
            answer = await client.embeddings.create(model=model, input=texts)
            return [list(d.embedding) for d in answer.data]

        passages, _ = await self._knowledge.passages(
            connection.tenant_id,
            [str(d) for d in params.get("documentIds") or []],
            query,
            top_k=int(_number(params, retrieval, "topK", "topK") or 3),
            min_score=float(_number(params, retrieval, "minScore", "minScore") or 0.0),
            embed=embed if retrieval.get("embeddings") else None,
            embedding_model=model if retrieval.get("embeddings") else None,
        )
        return passages

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


CLASSIFY_EXAMPLES = 5  # examples of each intent in the prompt
NO_INTENT = "none"


def classification_prompt(intents: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "Classify the customer's message into one of these intents, or none when no intent "
        "fits. Give your confidence from 0 to 1.",
        "",
    ]
    for intent in intents:
        description = str(intent.get("description") or "").strip()
        lines.append(f"- {intent['name']}" + (f": {description}" if description else ""))
        for example in list(intent.get("examples") or [])[:CLASSIFY_EXAMPLES]:
            lines.append(f"  e.g. {str(example)[:200]}")
    return "\n".join(lines)


def classification_schema(names: Sequence[str]) -> Document:
    return {
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": [*names, NO_INTENT]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["intent", "confidence"],
        "additionalProperties": False,
    }


async def _classify(client: openai.AsyncOpenAI, params: Document) -> Document:
    started = time.perf_counter()
    intents = [i for i in params["intents"] if isinstance(i, Mapping) and i.get("name")]
    if not intents:
        raise IntegrationError("Invalid", "classify needs at least one intent with a name")
    names = [str(i["name"]) for i in intents]
    completion = await client.chat.completions.create(
        model=str(params.get("model") or DEFAULT_MODEL),
        temperature=0,
        messages=[
            {"role": "system", "content": classification_prompt(intents)},
            {"role": "user", "content": str(params["text"])[:4000]},
        ],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "intent",
                "schema": classification_schema(names),
                "strict": True,
            },
        },
    )
    choice = completion.choices[0] if completion.choices else None
    text = (choice.message.content if choice is not None else None) or ""
    try:
        answer = json.loads(text)
        name, confidence = str(answer["intent"]), float(answer["confidence"])
    except (ValueError, KeyError, TypeError):
        raise IntegrationError("BadResponse", "OpenAI: the classification is not JSON") from None
    if name != NO_INTENT and name not in names:
        raise IntegrationError("BadResponse", f"OpenAI named an undeclared intent {name!r}")
    result: Document = {
        "intent": None if name == NO_INTENT else name,
        "confidence": min(max(confidence, 0.0), 1.0),
        "model": completion.model,
        "latencyMs": round((time.perf_counter() - started) * 1000, 1),
    }
    if completion.usage is not None:
        result["usage"] = {
            "promptTokens": completion.usage.prompt_tokens,
            "completionTokens": completion.usage.completion_tokens,
            "totalTokens": completion.usage.total_tokens,
        }
    return result


def _citations(sources: Sequence[Document], text: str) -> list[Document]:
    """Each passage given, and whether the answer cites it."""
    cited = {int(n) for n in _CITED.findall(text)}
    return [
        {
            "n": p["n"],
            "documentId": p["documentId"],
            "title": p.get("title"),
            "seq": p.get("seq"),
            "heading": p.get("heading"),
            "score": p["score"],
            "excerpt": " ".join(p["text"].split())[:240],
            "cited": p["n"] in cited,
        }
        for p in sources
    ]
