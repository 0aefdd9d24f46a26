"""AI Generate: asks the language model for text from `prompt` and stores it.

The integrations service calls the model with the workflow's AI Configuration and Knowledge
Base (from `resources`). The generated text (the result's `text`) is stored in
`workflow.<outputVariable>`, so later nodes can say `{{workflow.draft}}`.
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


class Config(EffectConfig):
    prompt: str = Field(min_length=1)
    outputVariable: VariableName | None = None
    systemPrompt: str | None = None
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    maxTokens: int | None = Field(default=None, ge=1)

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.outputVariable}",) if self.outputVariable else ()


def _params(ctx: NodeContext, config: Config) -> dict[str, Any]:
    resources = ctx.context.get("resources") or {}
    params: dict[str, Any] = {"prompt": as_text(config.prompt)}
    for name in ("systemPrompt", "model", "temperature", "maxTokens"):
        if (value := getattr(config, name)) is not None:
            params[name] = value
    if knowledge := resources.get("knowledgeBase"):
        params["documentIds"] = knowledge.get("documentIds", [])
    if ai_config := resources.get("aiConfig"):
        params["aiConfig"] = ai_config
    return params


@node_kind(
    "action.ai_generate",
    labels=("AI Generate", "AI Response"),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is None:
        return ctx.request(
            {
                "integration": "openai",
                "action": "generate",
                "params": _params(ctx, config),
                "outputVariable": config.outputVariable,
            }
        )
    text = ctx.delivered.get("text", ctx.delivered)
    if config.outputVariable:
        ctx.store_result(config.outputVariable, text)
    return NodeOutcome(output={"text": text})
