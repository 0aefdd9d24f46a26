"""Preview over HTTP: what the builder asks (`POST /v1/workflows/preview` on the gateway, which
forwards it to the executor's route of the same path) and what it gets back: the report
`connectflo preview` prints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.workflow import WorkflowDefinition

PREVIEW_TIMEOUT = "urn:connectflo:problem:preview-timeout"
PREVIEW_STEP_BUDGET = "urn:connectflo:problem:preview-step-budget"
"""The problem types of a preview that ran out of time, or of node runs."""


class PreviewTrigger(BaseModel):
    """What happened: the builder's trigger label and what `trigger.<field>` reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: str = Field(min_length=1, description="The builder's trigger label, e.g. 'Order'.")
    payload: dict[str, Any] = Field(default_factory=dict)


class PreviewRequest(BaseModel):
    """A workflow to run in-process with mocked effects: nothing is sent, nothing stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    definition: WorkflowDefinition
    trigger: PreviewTrigger
    customer: dict[str, Any] | None = None
    variables: dict[Literal["workflow", "conversation", "global"], dict[str, Any]] | None = Field(
        default=None, description="Variables the run starts with, by scope."
    )
    mocks: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="Node id -> the answers its effects get, in order (the last one is reused; "
        'none: an empty result). An answer is the result JSON, `{"$error": {...}}` an error, '
        '`{"$wait": true}` no answer (the preview ends `waiting`).',
    )


class PreviewNodeRun(BaseModel):
    node_id: str
    label: str | None = None
    kind: str
    status: str
    port: str | None = None


class PreviewEffect(BaseModel):
    """A request the run made (to the notifier, the integrations, the scheduler): not sent."""

    node_id: str
    kind: str
    request: Any = None


class PreviewError(BaseModel):
    node_id: str | None = None
    message: Any = None


class PreviewReport(BaseModel):
    """What `connectflo preview` prints: how the run ended, the nodes it ran (in order), the
    variables it left and the effects it requested."""

    status: str = Field(description="completed, failed, waiting, or not_started.")
    not_started: str | None = Field(
        default=None, description="Only with not_started: why the trigger node refused it."
    )
    executed: list[PreviewNodeRun]
    variables: dict[str, Any]
    effects: list[PreviewEffect]
    error: PreviewError | None
