"""AI and knowledge, as every service names them: a tenant's AI configurations, its declared
intents (classification settings), the plans' limits on resources, and the collections that
hold documents, their chunks and a workflow's attached resources (docs/architecture.md,
*Resources, retrieval and classification*).

The gateway validates and stores these shapes; the executor loads a workflow's resources and
classifies inbound messages with them; the integrations service answers AI Generate with them.
The API speaks snake_case; what a workflow reads (``resources.aiConfig``) is camelCase, as node
configs are (``workflow_view``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# Collections
DOCUMENTS = "documents"  # _id doc_<hex>: tenant, title, format, text, revision, chunk_count
DOCUMENT_CHUNKS = "document_chunks"  # _id <document>:<revision>:<seq>: the chunks retrieved
AI_CONFIGS = "ai_configs"  # _id aic_<hex>
CLASSIFICATION = "tenant_classification"  # _id tenant: ClassificationSettings and a revision
WORKFLOW_RESOURCES = "workflow_resources"  # _id tenant:workflow: documents, numbers, AI config

DOCUMENT_FORMATS = ("text", "markdown", "html", "pdf")
Tool = Literal["knowledge_search", "human_handoff", "structured_output"]
TOOLS: tuple[Tool, ...] = ("knowledge_search", "human_handoff", "structured_output")
"""What an AI configuration may allow a model to do: search the attached knowledge bases, hand
the conversation to a person (the fallback port), answer in a JSON schema."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,79}$"
_LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"  # BCP 47, e.g. en, pt-BR
Language = Annotated[str, Field(pattern=_LANGUAGE, examples=["en", "pt-BR"])]
Phrase = Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")]


class _Shape(BaseModel):
    """Numbers and flags are strict fields: "0.5" or true where a number belongs is refused,
    not coerced (the schema says number)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LanguageRules(_Shape):
    default: str = Field("en", pattern=_LANGUAGE, description="The language answers are in.")
    match_customer: bool = Field(
        True,
        strict=True,
        description="Answer in the customer's language when it is one of `allowed`.",
    )
    allowed: tuple[Language, ...] = Field(
        (), max_length=50, description="Languages the bot may answer in (empty: any)."
    )


class RetrievalSettings(_Shape):
    top_k: int = Field(3, strict=True, ge=1, le=20, description="Passages given to the model.")
    min_score: float = Field(
        0.0,
        strict=True,
        ge=0.0,
        le=1.0,
        description="Passages below this relevance (0 to 1) are left out.",
    )
    embeddings: bool = Field(
        False,
        strict=True,
        description="Rank with OpenAI embeddings too (hybrid); lexical BM25 alone otherwise.",
    )
    embedding_model: str = Field("text-embedding-3-small", min_length=1, max_length=100)


class AIConfigSpec(_Shape):
    """A tenant's AI configuration, as saved (the API's body)."""

    name: str = Field(pattern=_NAME)
    connection: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="The tenant's `openai` connection, by id or name (else its default one).",
    )
    model: str = Field("gpt-4o-mini", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")
    temperature: float = Field(0.3, strict=True, ge=0.0, le=2.0)
    max_tokens: int = Field(500, strict=True, ge=1, le=32_768)
    system_prompt: str | None = Field(None, max_length=8000)
    tone: Literal["neutral", "friendly", "formal", "empathetic", "concise"] | None = None
    language: LanguageRules = LanguageRules()
    tools_allowed: tuple[Tool, ...] = Field(TOOLS, description=f"Any of {', '.join(TOOLS)}.")
    retrieval: RetrievalSettings = RetrievalSettings()
    timeout_seconds: float = Field(30, strict=True, gt=0, le=120)

    @field_validator("tools_allowed")
    @classmethod
    def _once_each(cls, value: tuple[Tool, ...]) -> tuple[Tool, ...]:
        return tuple(dict.fromkeys(value))

    def workflow_view(self, config_id: str) -> dict[str, Any]:
        """What a workflow reads as ``resources.aiConfig`` (camelCase, no nulls)."""
        view: dict[str, Any] = _camel(self.model_dump(exclude_none=True))
        return {"id": config_id, **view}


class IntentDeclaration(_Shape):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", examples=["order_status"])
    description: str = Field("", max_length=500)
    examples: tuple[Phrase, ...] = Field(
        min_length=2, max_length=200, description="Phrases customers say for it (2 at least)."
    )


class ClassificationSettings(_Shape):
    """How a tenant's inbound messages are classified before triggers are matched."""

    sentiment: bool = Field(
        True, strict=True, description="Score every message's sentiment (VADER)."
    )
    intents: tuple[IntentDeclaration, ...] = Field((), max_length=200)
    engine: Literal["local", "openai"] = Field(
        "local",
        description="local: a classifier trained from the examples, in the executor. openai: "
        "the model of the AI configuration `ai_config_id` (its connection and model) answers "
        "with structured output; the local classifier answers when it fails or is late.",
    )
    ai_config_id: str | None = Field(
        None,
        description="The AI configuration classification uses (checked; the openai engine "
        "needs one).",
    )
    min_confidence: float = Field(
        0.0, strict=True, ge=0.0, le=1.0, description="Below this, a message has no intent."
    )

    @field_validator("intents")
    @classmethod
    def _unique(cls, value: tuple[IntentDeclaration, ...]) -> tuple[IntentDeclaration, ...]:
        names = [i.name for i in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"intents named twice: {', '.join(twice)}")
        return value


class PlanLimits(_Shape):
    maxDocuments: int
    maxDocumentBytes: int
    maxDocumentsPerWorkflow: int
    maxPhoneNumbersPerWorkflow: int
    maxAiConfigs: int
    maxIntents: int


PLANS: dict[str, PlanLimits] = {
    "free": PlanLimits(
        maxDocuments=20,
        maxDocumentBytes=512 * 1024,
        maxDocumentsPerWorkflow=3,
        maxPhoneNumbersPerWorkflow=1,
        maxAiConfigs=2,
        maxIntents=10,
    ),
    "starter": PlanLimits(
        maxDocuments=200,
        maxDocumentBytes=2 * 1024 * 1024,
        maxDocumentsPerWorkflow=10,
        maxPhoneNumbersPerWorkflow=3,
        maxAiConfigs=10,
        maxIntents=50,
    ),
    "pro": PlanLimits(
        maxDocuments=2000,
        maxDocumentBytes=5 * 1024 * 1024,
        maxDocumentsPerWorkflow=50,
        maxPhoneNumbersPerWorkflow=10,
        maxAiConfigs=50,
        maxIntents=200,
    ),
    "enterprise": PlanLimits(
        maxDocuments=20000,
        maxDocumentBytes=10 * 1024 * 1024,
        maxDocumentsPerWorkflow=500,
        maxPhoneNumbersPerWorkflow=100,
        maxAiConfigs=500,
        maxIntents=200,
    ),
}
Plan = Literal["free", "starter", "pro", "enterprise"]
DEFAULT_PLAN: Plan = "starter"


def plan_limits(plan: str | None) -> PlanLimits:
    return PLANS.get(plan or DEFAULT_PLAN, PLANS[DEFAULT_PLAN])


def workflow_resources_ref(tenant_id: str, workflow_id: str) -> str:
    """The ``_id`` of a workflow's attached resources in ``workflow_resources``."""
    return f"{tenant_id}:{workflow_id}"


def chunk_ref(document_id: str, revision: int, seq: int) -> str:
    """The ``_id`` of a document's chunk in ``document_chunks``."""
    return f"{document_id}:{revision}:{seq}"


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {to_camel(k): _camel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_camel(v) for v in value]
    return value
