"""The six trigger types of the builder and the URL slugs that name them."""

TRIGGER_TYPES: tuple[str, ...] = (
    "Incoming Message",
    "Incoming Call",
    "Intent Detected",
    "Sentiment Negative",
    "SLA Breached",
    "New Order",
)

_BY_SLUG = {label.lower().replace(" ", "_"): label for label in TRIGGER_TYPES}


def trigger_type_from_slug(slug: str) -> str | None:
    """'incoming_message', 'incoming-message' and 'Incoming Message' all name one trigger."""
    return _BY_SLUG.get(slug.strip().lower().replace("-", "_").replace(" ", "_"))
