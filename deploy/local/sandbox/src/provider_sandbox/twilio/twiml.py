"""The `<Message>` verbs of a TwiML answer to an incoming message: what Twilio sends back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass


class TwimlError(ValueError):
    """Twilio's 12100 (document parse failure) or 12200 (schema): the answer is not TwiML."""


@dataclass(frozen=True)
class MessageVerb:
    body: str
    media_urls: list[str]
    to: str | None
    from_: str | None
    action: str | None
    status_callback: str | None


def message_verbs(document: str) -> list[MessageVerb]:
    """Each `<Message>` of `<Response>`, its text or `<Body>`, its `<Media>` and attributes; an
    empty answer is an empty Response. TwimlError when it is not a TwiML document."""
    if not document.strip():
        return []
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise TwimlError(f"12100 Document parse failure: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(f"12200 Schema validation warning: root element <{root.tag}>")
    verbs = []
    for element in root.findall("Message"):
        bodies = [b.text or "" for b in element.findall("Body")]
        body = "".join(bodies) if bodies else (element.text or "")
        verbs.append(
            MessageVerb(
                body=body.strip(),
                media_urls=[(m.text or "").strip() for m in element.findall("Media") if m.text],
                to=element.get("to"),
                from_=element.get("from"),
                action=element.get("action"),
                status_callback=element.get("statusCallback"),
            )
        )
    return verbs
