"""The models the sandbox serves, as `GET /v1/models` lists them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import errors


@dataclass(frozen=True)
class Model:
    id: str
    created: int
    kind: str  # "chat" or "embedding"
    snapshot: str  # what an answer's `model` says (OpenAI answers the dated snapshot)
    dimensions: int = 0  # an embedding model's default (and largest) vector length

    def listed(self) -> dict[str, Any]:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": "system"}


def _chat(alias: str, snapshot: str, created: int) -> list[Model]:
    return [Model(alias, created, "chat", snapshot), Model(snapshot, created, "chat", snapshot)]


MODELS: dict[str, Model] = {
    model.id: model
    for model in [
        *_chat("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 1721172741),
        *_chat("gpt-4o", "gpt-4o-2024-08-06", 1722814719),
        *_chat("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", 1744318173),
        Model("text-embedding-3-small", 1705948997, "embedding", "text-embedding-3-small", 1536),
        Model("text-embedding-3-large", 1705953180, "embedding", "text-embedding-3-large", 3072),
    ]
}


def model_for(name: str, kind: str, endpoint: str) -> Model:
    """The model a request names, refused as OpenAI refuses an unknown or unsuitable one."""
    model = MODELS.get(name)
    if model is None:
        raise errors.model_not_found(name)
    if model.kind != kind and kind == "chat":
        raise errors.OpenAIError(
            404,
            f"This is not a chat model and thus not supported in the {endpoint} endpoint.",
            param="model",
        )
    if model.kind != kind:
        raise errors.bad_request(
            f"The model `{name}` does not support embeddings: use text-embedding-3-small or"
            " text-embedding-3-large.",
            param="model",
        )
    return model
