"""A problem found in a workflow definition."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding; errors block saving, warnings are shown to the author.

    `node_id`/`label` name the node it is about (None only for workflow-wide problems such as
    "no trigger"); `field` is the config field for schema failures; `code` is stable for tooling.
    """

    severity: Severity
    code: str
    message: str
    node_id: str | None = None
    label: str | None = None
    field: str | None = None
    edge_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    def __str__(self) -> str:
        where = f"node {self.node_id!r}" if self.node_id is not None else "workflow"
        if self.label:
            where += f" ({self.label})"
        if self.field:
            where += f", field {self.field}"
        return f"{self.severity}: {where}: {self.message} [{self.code}]"
