"""The trigger types a caller may post (`POST /v1/events/{type}`) and the URL slugs that name
them: the builder's six, and SLA At Risk (the scheduler's SLA keeper posts both SLA ones
itself; a caller with clocks of its own may too). Scheduled is the schedules' alone."""

TRIGGER_TYPES: tuple[str, ...] = (
    "Incoming Message",
    "Incoming Call",
    "Intent Detected",
    "Sentiment Negative",
    "SLA Breached",
    "SLA At Risk",
    "New Order",
)

_BY_SLUG = {label.lower().replace(" ", "_"): label for label in TRIGGER_TYPES}


def trigger_type_from_slug(slug: str) -> str | None:
    """'incoming_message', 'incoming-message' and 'Incoming Message' all name one trigger."""
    return _BY_SLUG.get(slug.strip().lower().replace("-", "_").replace(" ", "_"))
