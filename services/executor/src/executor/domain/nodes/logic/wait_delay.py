"""Wait/Delay: pauses this path for a duration or until a time, then continues on `out`.

`duration` is seconds (a number), an ISO 8601 duration (`PT1H`, `P1DT2H`) or a short form
(`90s`, `15m`, `2h`, `1d`); `until` is an ISO 8601 date-time. Both may be templates
(`{{workflow.followUpAt}}`), which makes the delay dynamic. The scheduler holds the timer, the
execution is suspended meanwhile; a delay of zero or a time in the past continues at once.
"""

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import model_validator

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeFailed,
    NodeOutcome,
    node_kind,
)

_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_SHORT_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: Any) -> float:
    """Seconds in a duration written as a number, ISO 8601 or a short form."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (short := _SHORT_DURATION.match(value.strip().lower())):
        seconds = float(short["n"]) * _UNIT_SECONDS[short["unit"]]
    elif (
        isinstance(value, str)
        and value.strip() not in ("P", "PT")
        and (iso := _ISO_DURATION.match(value.strip().upper()))
    ):
        seconds = sum(float(iso[k] or 0) * f for k, f in (("d", 86400), ("h", 3600), ("m", 60)))
        seconds += float(iso["s"] or 0)
    elif isinstance(value, str) and re.fullmatch(r"\d+(?:\.\d+)?", value.strip()):
        seconds = float(value)
    else:
        raise ValueError(f"{value!r} is not a duration (seconds, PT1H or 15m)")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def moment(value: Any) -> datetime:
    """An aware date-time from ISO 8601 (naive times are UTC)."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO 8601 date-time")
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Config(EffectConfig):
    duration: str | float | None = None
    until: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "Config":
        if (self.duration is None) == (self.until is None):
            raise ValueError("set exactly one of duration or until")
        if self.duration is not None and "{{" not in str(self.duration):
            duration_seconds(self.duration)
        if self.until is not None and "{{" not in self.until:
            moment(self.until)
        return self


@node_kind(
    "logic.wait_delay",
    labels=("Wait/Delay", "Wait", "Delay"),
    effect=EffectTarget.SCHEDULER,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is not None:
        return NodeOutcome(output={"waited": True})
    try:
        if config.until is not None:
            until = moment(config.until)
            if until <= ctx.now():
                return NodeOutcome(output={"waited": False})
            return ctx.request({"until": until.isoformat()})
        seconds = duration_seconds(config.duration)
    except ValueError as error:
        raise NodeFailed(str(error), code="invalid_delay") from error
    if seconds == 0:
        return NodeOutcome(output={"waited": False})
    return ctx.request({"delay_seconds": seconds})
