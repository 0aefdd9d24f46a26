"""A knowledge-base document as uploaded: its body, its text (knowledge.documents) and its
chunks (knowledge.chunking), and what is refused before anything is stored.

Text formats take `content` (a JSON string) or `content_base64` (UTF-8 bytes: a large text
whose JSON escaping would grow it past the body limit); a PDF takes `content_base64`. The
size a plan limits is the content's: the decoded bytes, or a string's UTF-8 bytes."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Literal

from knowledge.chunking import Chunk, chunk_text
from knowledge.documents import UnreadableDocument, text_of
from pydantic import BaseModel, ConfigDict, Field

Format = Literal["text", "markdown", "html", "pdf"]  # contracts.ai.DOCUMENT_FORMATS
MetadataKey = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
MetadataValue = Annotated[str, Field(max_length=500)]


class DocumentUpload(BaseModel):
    """A document to index: exactly one of `content` and `content_base64`."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    format: Format = Field(description="How `content` is written; `pdf` as `content_base64`.")
    content: str | None = Field(
        None, description="The document's text (text, markdown, html). The plan limits its size."
    )
    content_base64: str | None = Field(
        None,
        description="The document's bytes in base64 (RFC 4648): a PDF, or UTF-8 text.",
    )
    metadata: dict[MetadataKey, MetadataValue] | None = Field(
        None, max_length=20, description="Your labels, returned as given."
    )


class Refusal(ValueError):
    """The upload cannot be indexed: ``name`` says which field, ``reason`` why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class Extracted:
    text: str
    chunks: list[Chunk]


def content_of(upload: DocumentUpload) -> tuple[bytes | str, str]:
    """The content and the field it came from; Refusal unless exactly one is given, in the
    form its format takes."""
    if (upload.content is None) == (upload.content_base64 is None):
        raise Refusal("body.content", "or body.content_base64: give exactly one")
    if upload.content is not None:
        if upload.format == "pdf":
            raise Refusal("body.content", "cannot hold a PDF: send its bytes as content_base64")
        return upload.content, "body.content"
    assert upload.content_base64 is not None
    return decoded_base64(upload.content_base64), "body.content_base64"


def decoded_base64(text: str) -> bytes:
    compact = "".join(text.split())  # line breaks of MIME-style base64 are fine
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise Refusal("body.content_base64", "is not base64 (RFC 4648 alphabet)") from None


def size_of(content: bytes | str) -> int:
    return len(content) if isinstance(content, bytes) else len(content.encode("utf-8"))


def extract(format: str, content: bytes | str, field: str) -> Extracted:
    """The text and its chunks; Refusal naming ``field`` when the document has no text this
    format can read."""
    try:
        text = text_of(format, content)
    except UnreadableDocument as exc:
        raise Refusal(field, f"cannot be read as {format}: {exc}") from None
    except Exception as exc:  # a PDF parser fails in many ways on malformed input
        if format != "pdf":
            raise
        reason = f"cannot be read as pdf: not a readable PDF ({type(exc).__name__})"
        raise Refusal(field, reason) from None
    text = storable(text)
    return Extracted(text=text, chunks=chunk_text(text))


def storable(text: str) -> str:
    """``text`` as MongoDB (and FerretDB on PostgreSQL) stores it: no NUL, valid Unicode."""
    text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
