"""A voice webhook's answer read as Twilio reads it ("TwiML Voice: Your Response"): XML or HTML
is a TwiML document, text/plain is said, an audio file is played; anything else, a non-2xx
answer or no answer is an application error with Twilio's error code. Pure: no I/O."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

TWIML_TYPES = ("text/xml", "application/xml", "text/html")
APOLOGY = "We are sorry, an application error has occurred. Goodbye."


class ApplicationError(Exception):
    """What ends a call with Twilio's apology: its error code, what went wrong, and where."""

    def __init__(self, code: int, message: str, url: str = "") -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.url = url

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "url": self.url,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
        }


@dataclass(frozen=True)
class VoiceVerb:
    """One element of a TwiML document: `<Say voice="alice">Hi</Say>` is
    VoiceVerb("Say", {"voice": "alice"}, "Hi")."""

    name: str
    attributes: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: tuple[VoiceVerb, ...] = ()


def _verb(element: ET.Element) -> VoiceVerb:
    own_text = (element.text or "").strip()
    return VoiceVerb(
        name=element.tag,
        attributes=dict(element.attrib),
        # <Say> may hold SSML (<break/>, <emphasis>...): what is said is all of its text
        text=" ".join("".join(element.itertext()).split()) if element.tag == "Say" else own_text,
        children=tuple(_verb(child) for child in element),
    )


def read_answer(
    url: str, status: int | None, content_type: str | None, body: str | None, error: str | None
) -> list[VoiceVerb]:
    """The verbs of a webhook's answer; ApplicationError when Twilio would not play it."""
    if status is None:
        raise ApplicationError(11205, f"HTTP connection failure: {error or 'no answer'}", url)
    if not 200 <= status < 300:
        raise ApplicationError(11200, f"HTTP retrieval failure: the answer was {status}", url)
    media = (content_type or "").split(";")[0].strip().lower()
    text = body or ""
    if media == "text/plain":
        return [VoiceVerb("Say", text=" ".join(text.split()))]
    if media.startswith("audio/"):
        return [VoiceVerb("Play", text=url)]
    if media not in TWIML_TYPES:
        raise ApplicationError(12300, f"Invalid Content-Type {content_type or '(none)'}", url)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ApplicationError(12100, f"Document parse failure: {exc}", url) from None
    if root.tag != "Response":
        raise ApplicationError(
            12100, f"Document parse failure: the root element is <{root.tag}>, not <Response>", url
        )
    return [_verb(element) for element in root]
