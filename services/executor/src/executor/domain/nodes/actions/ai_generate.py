"""AI Generate: asks the language model for an answer from `prompt` and stores it.

The integrations service answers through the official OpenAI SDK with the workflow's AI
configuration (`resources.aiConfig`: the tenant's attached one, with the AI Configuration
node's settings over it; this node's `model`, `temperature`, `maxTokens` and `systemPrompt`
over both), the conversation's latest `recentMessages`, and the `topK` best passages of the
workflow's knowledge bases (`resources.knowledgeBase`) for `query` (default: the customer's
latest message). The answer cites its passages: `citations` lists each passage given (number,
document, title, score) and whether the answer cited it (`[n]`).

With `responseSchema` (a JSON schema) the model answers in that shape (structured output):
the object is in `data`. The answer (`text`, or `data` with a schema) is stored in
`workflow.<outputVariable>`; `model`, `usage` (tokens) and `citations` are in the node's
output.

The path takes `fallback` (when wired; else `out`) when the answer is empty
(`fallbackOnEmpty`) or when knowledge bases are attached and no passage reaches `minScore`
(the model is then not asked): a guard against answers nothing grounds.
"""

from typing import Any

from pydantic import Field

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    as_text,
    node_kind,
)
from executor.domain.nodes.variable_path import VariableName

_MESSAGE_FIELDS = ("text", "message", "body")


class Config(EffectConfig):
    raw_fields = frozenset({"responseSchema"})

    prompt: str = Field(min_length=1)
    outputVariable: VariableName | None = None
    systemPrompt: str | None = None
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    maxTokens: int | None = Field(default=None, ge=1, le=32_768)
    query: str | None = Field(default=None, description="What to search the knowledge bases with.")
    recentMessages: int = Field(default=10, ge=0, le=50)
    topK: int | None = Field(default=None, ge=1, le=20)
    minScore: float | None = Field(default=None, ge=0.0, le=1.0)
    responseSchema: dict[str, Any] | None = None
    fallbackOnEmpty: bool = True
    connection: str | None = Field(
        default=None, description="The tenant's openai connection (else the AI config's)."
    )

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.outputVariable}",) if self.outputVariable else ()


def _params(ctx: NodeContext, config: Config) -> dict[str, Any]:
    resources = ctx.context.get("resources") or {}
    params: dict[str, Any] = {
        "prompt": as_text(config.prompt),
        "recentMessages": config.recentMessages,
        "fallbackOnEmpty": config.fallbackOnEmpty,
    }
    for name in ("systemPrompt", "model", "temperature", "maxTokens", "topK", "minScore"):
        if (value := getattr(config, name)) is not None:
            params[name] = value
    if config.responseSchema is not None:
        params["responseSchema"] = config.responseSchema
    query = config.query or next(
        (v for k in _MESSAGE_FIELDS if isinstance(v := ctx.trigger_payload.get(k), str) and v),
        None,
    )
    if query:
        params["query"] = as_text(query)
    if conversation := ctx.execution.get("conversationId"):
        params["conversationId"] = conversation
    if knowledge := resources.get("knowledgeBase"):
        params["documentIds"] = list(knowledge.get("documentIds") or [])
    if ai_config := resources.get("aiConfig"):
        params["aiConfig"] = ai_config
    return params


@node_kind(
    "action.ai_generate",
    labels=("AI Generate", "AI Response"),
    ports=("out", "fallback"),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is None:
        params = _params(ctx, config)
        connection = config.connection or (params.get("aiConfig") or {}).get("connection")
        return ctx.request(
            {
                "integration": "openai",
                "action": "generate",
                "params": params,
                "outputVariable": config.outputVariable,
                **({"connection": connection} if connection else {}),
            }
        )
    result = ctx.delivered
    text = result.get("text", "")
    answer = result.get("data") if config.responseSchema is not None else text
    fallback = bool(result.get("fallback")) or (config.fallbackOnEmpty and not answer)
    if config.outputVariable and not fallback:
        ctx.store_result(config.outputVariable, answer)
    port = "fallback" if fallback and "fallback" in ctx.wired_ports else "out"
    return NodeOutcome(port=port, output={**result, "fallback": fallback})
