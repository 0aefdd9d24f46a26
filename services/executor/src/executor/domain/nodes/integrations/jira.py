"""Jira: opens and updates issues (bug reports from conversations), through Jira Cloud's REST
API v3.

Actions: `createIssue` (projectKey, summary; description: text, issueType (Task), labels,
priority) -> `{id, key, url}`; `getIssue` (issueKey; fields to read) -> the issue (its
`fields.status.name`, ...); `addComment` (issueKey, body: text); `transitionIssue` (issueKey,
transition: the transition's id or name, or the status it leads to, e.g. "Done") -> `{issueKey,
transition, status}`. Jira takes no idempotency key: a retried create may make a second issue.
The result is stored in `workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {
        "createIssue": ("projectKey", "summary"),
        "getIssue": ("issueKey",),
        "addComment": ("issueKey", "body"),
        "transitionIssue": ("issueKey", "transition"),
    }

    action: Literal["createIssue", "getIssue", "addComment", "transitionIssue"] = "createIssue"


@node_kind(
    "integration.jira",
    labels=("Jira",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "jira")
