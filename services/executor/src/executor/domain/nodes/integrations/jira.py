"""Jira: opens and updates issues (bug reports from conversations).

Actions: `createIssue` (projectKey, summary), `getIssue` (issueKey), `addComment` (issueKey,
body), `transitionIssue` (issueKey, transition). The result is stored in
`workflow.<outputVariable>`."""

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
