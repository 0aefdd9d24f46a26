"""Send Email: sends an email through the notifier (SendGrid underneath).

`to` is one address or a list; `subject` and `body` (HTML or text) are interpolated, or
`templateId` names a provider template filled with `templateData`. Attachments are
`{filename, url}`. The request carries these fields; delivery status stays with the notifier.
"""

from typing import Any

from pydantic import model_validator

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeFailed,
    NodeOutcome,
    as_text,
    node_kind,
)


class Config(EffectConfig):
    to: str | list[str]
    cc: list[str] = []
    bcc: list[str] = []
    subject: str = ""
    body: str = ""
    templateId: str | None = None
    templateData: dict[str, Any] = {}
    attachments: list[dict[str, Any]] = []

    @model_validator(mode="after")
    def _content(self) -> "Config":
        if not (self.subject or self.body or self.templateId):
            raise ValueError("an email needs a subject, a body or a templateId")
        return self


def _recipients(value: Any) -> list[str]:
    addresses = value if isinstance(value, list) else [value]
    cleaned = [as_text(address).strip() for address in addresses]
    return [address for address in cleaned if address]


@node_kind(
    "action.send_email",
    labels=("Send Email", "Email"),
    effect=EffectTarget.NOTIFIER,
    awaits_result=False,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is not None:
        return NodeOutcome(output=ctx.delivered)
    to = _recipients(config.to)
    if not to:
        raise NodeFailed("the email has no recipient", code="no_recipient")
    request: dict[str, Any] = {
        "to": to,
        "cc": _recipients(config.cc),
        "bcc": _recipients(config.bcc),
        "subject": as_text(config.subject),
        "body": as_text(config.body),
    }
    if config.templateId:
        request["templateId"] = config.templateId
        request["templateData"] = config.templateData
    if config.attachments:
        request["attachments"] = config.attachments
    return ctx.request(request)
