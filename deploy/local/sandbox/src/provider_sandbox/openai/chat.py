"""`POST /v1/chat/completions` (https://platform.openai.com/docs/api-reference/chat/create):
the body checked as OpenAI checks it, answered with a ChatCompletion (or its chunks as
server-sent events when `stream` is true)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from . import errors
from .answers import Conversation, answer
from .formats import chat_format, require_json_word
from .ids import new_id
from .models import model_for
from .params import (
    boolean,
    content_text,
    decimal,
    integer,
    mapping,
    model_of,
    only_known,
    stops,
)
from .structured import filled
from .text import tokens, truncated

KNOWN = frozenset(
    """model messages temperature top_p n stream stream_options stop max_tokens
    max_completion_tokens presence_penalty frequency_penalty logit_bias logprobs top_logprobs
    user seed tools tool_choice parallel_tool_calls response_format service_tier store metadata
    modalities audio prediction reasoning_effort web_search_options functions function_call
    prompt_cache_key prompt_cache_retention safety_identifier verbosity""".split()  # noqa: SIM905 (a list, read as the reference lists them)
)
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
TIERS = ("auto", "default", "flex", "scale", "priority")
TOOL_CHOICES = ("none", "auto", "required")


def _content(message: dict[str, Any], at: str) -> str:
    content = message.get("content")
    if content is None:
        if message["role"] == "assistant" and (
            message.get("tool_calls") or message.get("function_call")
        ):
            return ""
        raise errors.missing(f"{at}.content")
    return content_text(content, at, PART_TYPES, ("text",))


def conversation_of(value: Any) -> list[tuple[str, str]]:
    if value is None:
        raise errors.missing("messages")
    if not isinstance(value, list):
        raise errors.invalid_type("messages", "an array of objects", value)
    if not value:
        raise errors.OpenAIError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got"
            " an empty array instead.",
            param="messages",
            code="empty_array",
        )
    turns = []
    for i, message in enumerate(value):
        at = f"messages[{i}]"
        message = mapping(message, at)
        role = message.get("role")
        if role is None:
            raise errors.missing(f"{at}.role")
        if role not in ROLES:
            raise errors.invalid_value(f"{at}.role", role, ROLES)
        if role == "tool" and not message.get("tool_call_id"):
            raise errors.missing(f"{at}.tool_call_id")
        turns.append((role, _content(message, at)))
    return turns


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise errors.invalid_type("tools", "an array of objects", tools)
    for i, tool in enumerate(tools):
        tool = mapping(tool, f"tools[{i}]")
        if tool.get("type") is None:
            raise errors.missing(f"tools[{i}].type")
        if tool["type"] not in ("function", "custom"):
            raise errors.invalid_value(f"tools[{i}].type", tool["type"], ("function", "custom"))
        spec = mapping(tool.get(tool["type"]), f"tools[{i}].{tool['type']}")
        if not isinstance(spec.get("name"), str):
            raise errors.missing(f"tools[{i}].{tool['type']}.name")
    return tools


def _called(body: dict[str, Any], tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The tool `tool_choice` makes the model call ("required": the first), else None."""
    choice = body.get("tool_choice")
    if choice is None:
        return None
    if not tools:
        raise errors.bad_request(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are"
            " specified.",
            param="tool_choice",
        )
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise errors.invalid_value("tool_choice", choice, TOOL_CHOICES)
        return tools[0] if choice == "required" else None
    name = mapping(mapping(choice, "tool_choice").get("function"), "tool_choice.function")
    for tool in tools:
        if tool.get("function", {}).get("name") == name.get("name"):
            return tool
    raise errors.bad_request(
        f"Invalid value for 'tool_choice': function '{name.get('name')}' not found in 'tools'.",
        param="tool_choice",
    )


def _stopped(content: str, stop: list[str]) -> str:
    cuts = [content.find(s) for s in stop if s and s in content]
    return content[: min(cuts)] if cuts else content


def _logprobs(content: str) -> dict[str, Any]:
    pieces = [p + " " for p in content.split(" ")]
    if pieces:
        pieces[-1] = pieces[-1][:-1]
    found = [
        {"token": p, "logprob": 0.0, "bytes": list(p.encode()), "top_logprobs": []}
        for p in pieces
        if p
    ]
    return {"content": found, "refusal": None}


def usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def prompt_tokens(turns: list[tuple[str, str]]) -> int:
    """The estimate with OpenAI's framing: 3 tokens a message, 3 to prime the reply."""
    return sum(tokens(text) + 3 for _, text in turns) + 3


def fingerprint(snapshot: str) -> str:
    return "fp_" + format(sum(snapshot.encode()) * 2654435761 % 16**10, "010x")


async def complete(body: dict[str, Any]) -> dict[str, Any] | StreamingResponse:
    only_known(body, KNOWN)
    model = model_for(model_of(body), "chat", "v1/chat/completions")
    turns = conversation_of(body.get("messages"))
    decimal(body, "temperature", 0, 2)
    decimal(body, "top_p", 0, 1)
    decimal(body, "presence_penalty", -2, 2)
    decimal(body, "frequency_penalty", -2, 2)
    n = integer(body, "n", 1, 128) or 1
    limit = integer(body, "max_completion_tokens", 1)
    limit = integer(body, "max_tokens", 1) if limit is None else limit
    integer(body, "top_logprobs", 0, 20)
    stop = stops(body)
    stream = boolean(body, "stream")
    if body.get("stream_options") is not None and not stream:
        raise errors.bad_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    tier = body.get("service_tier") or "auto"
    if tier not in TIERS:
        raise errors.invalid_value("service_tier", tier, TIERS)
    form = chat_format(body.get("response_format"))
    require_json_word(form, [text for _, text in turns], "messages")
    tools = _tools(body)
    called = _called(body, tools)
    conversation = Conversation(tuple(turns))
    if conversation.delay_ms:
        await asyncio.sleep(conversation.delay_ms / 1000)

    content, finish = _stopped(answer(conversation, form), stop), "stop"
    if limit is not None and tokens(content) > limit:
        content, finish = truncated(content, limit), "length"
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    message["annotations"] = []
    if called is not None:
        spec = called.get("function") or {}
        content = json.dumps(filled(spec.get("parameters") or {}, conversation.question, ""))
        function = {"name": spec.get("name"), "arguments": content}
        call = {"id": new_id("call_", 24), "type": "function", "function": function}
        message.update(content=None, tool_calls=[call])
        finish = "tool_calls"
    prompt = prompt_tokens(turns) + (tokens(json.dumps(tools)) if tools else 0)
    completion = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model.snapshot,
        "choices": [
            {
                "index": i,
                "message": message,
                "finish_reason": finish,
                "logprobs": _logprobs(content) if body.get("logprobs") else None,
            }
            for i in range(n)
        ],
        "usage": usage(prompt, tokens(content) * n),
        "service_tier": "default" if tier == "auto" else tier,
        "system_fingerprint": fingerprint(model.snapshot),
    }
    if stream:
        options = mapping(body.get("stream_options") or {}, "stream_options")
        include = bool(options.get("include_usage"))
        return StreamingResponse(_chunks(completion, include), media_type="text/event-stream")
    return completion


async def _chunks(completion: dict[str, Any], include_usage: bool) -> AsyncIterator[str]:
    """The completion as chat.completion.chunk events: the role, the content word by word, the
    finish reason, then (with `stream_options.include_usage`) the usage; then [DONE]."""
    kept = ("id", "created", "model", "service_tier", "system_fingerprint")
    head = {key: completion[key] for key in kept}
    head["object"] = "chat.completion.chunk"
    extra = {"usage": None} if include_usage else {}

    def event(choices: list[dict[str, Any]], **more: Any) -> str:
        return f"data: {json.dumps({**head, 'choices': choices, **extra, **more})}\n\n"

    def delta(index: int, finish: str | None = None, **changed: Any) -> str:
        choice = {"index": index, "delta": changed, "logprobs": None, "finish_reason": finish}
        return event([choice])

    for choice in completion["choices"]:
        index, message = choice["index"], choice["message"]
        yield delta(index, role="assistant", content="", refusal=None)
        if message.get("tool_calls"):
            yield delta(index, tool_calls=[{"index": 0, **message["tool_calls"][0]}])
        for i, word in enumerate((message["content"] or "").split(" ")):
            if word or i:
                yield delta(index, content=word if i == 0 else " " + word)
        yield delta(index, finish=choice["finish_reason"])
    if include_usage:
        yield event([], usage=completion["usage"])
    yield "data: [DONE]\n\n"
