"""The plain text of a document, whatever it was written in: what chunking and retrieval read.

Every format comes out the same way: paragraphs and headings (each heading a line of its own)
separated by one blank line, list items and table rows (cells joined by ", ") one a line,
runs of spaces collapsed, no markup left. Bytes are UTF-8 (a byte order mark is dropped); a
PDF must be bytes."""

from __future__ import annotations

import io
import re

FORMATS = ("text", "markdown", "html", "pdf")

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")

# Removed with their content: never what a reader of the page reads.
_HIDDEN = ("script", "style", "nav", "head", "noscript", "template", "iframe", "svg")
# Separated from their neighbours by a blank line (a paragraph of their own).
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl",
     "figure", "hr", "address"}
)  # fmt: skip
# Separated from their neighbours by a line break.
_LINES = frozenset(
    {"div", "section", "article", "main", "header", "footer", "aside", "li", "tr", "dt", "dd",
     "caption", "figcaption", "form", "fieldset", "details", "summary", "br"}
)  # fmt: skip
_CELLS = frozenset(("td", "th"))
# While walking a page: where a line break, a blank line or a cell separator goes (control
# characters a page's text never keeps), resolved once the whole page is read.
_LINE, _PARAGRAPH, _CELL = "\x01", "\x02", "\x03"
_MARKERS = re.compile(r"[\x00-\x08]")
_BREAKS = re.compile(r"\s*[\x01\x02][\s\x01\x02]*")
_CELL_BREAK = re.compile(r"[^\S\n]*\x03[^\S\n]*")


class UnreadableDocument(ValueError):
    """The document has no text this module can read; the message says why."""


def text_of(format: str, content: bytes | str) -> str:
    """The plain text of a document in one of ``FORMATS``.

    ``markdown`` is rendered with markdown-it-py and read like HTML; ``html`` is read with
    BeautifulSoup (scripts, styles, navigation and the head left out); ``pdf`` is read with
    pypdf, its pages separated by a blank line. Raises ``UnreadableDocument`` for an unknown
    format, undecodable bytes or a document without text."""
    if format == "pdf":
        text = _pdf_text(content)
    elif format == "text":
        text = _decoded(content)
    elif format == "markdown":
        text = _html_text(_markdown_html(_decoded(content)))
    elif format == "html":
        text = _html_text(_decoded(content))
    else:
        raise UnreadableDocument(
            f"unknown format {format!r} (expected one of {', '.join(FORMATS)})"
        )
    text = _tidy(text)
    if not text:
        described = {"markdown": "the Markdown", "html": "the HTML"}
        what = described.get(format, "the document")
        raise UnreadableDocument(f"{what} has no text")
    return text


def _tidy(text: str) -> str:
    """``text`` with newlines normalised, runs of spaces collapsed, lines stripped and at most
    one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _decoded(content: bytes | str) -> str:
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableDocument(f"not valid UTF-8 at byte {exc.start}") from None


def _markdown_html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    html: str = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return html


def _html_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for hidden in soup.find_all(_HIDDEN):
        hidden.decompose()
    pieces: list[str] = []
    _walk(soup, pieces, preformatted=False)
    text = _CELL_BREAK.sub(", ", "".join(pieces))
    return _BREAKS.sub(lambda m: "\n\n" if _PARAGRAPH in m.group() else "\n", text)


def _walk(node: object, pieces: list[str], *, preformatted: bool) -> None:
    """Appends the text under ``node`` to ``pieces``, with a blank line around paragraph-like
    elements and a line break around line-like ones."""
    from bs4.element import NavigableString, PreformattedString, Tag

    if isinstance(node, PreformattedString):  # comments, doctypes, CDATA, processing instructions
        return
    if isinstance(node, NavigableString):
        text = _MARKERS.sub("", str(node))
        pieces.append(text if preformatted else _SPACES.sub(" ", text.replace("\n", " ")))
        return
    if not isinstance(node, Tag):
        return
    name = node.name
    separator = _PARAGRAPH if name in _PARAGRAPHS else _LINE if name in _LINES else ""
    pieces.append(separator)
    if name in _CELLS and node.find_previous_sibling(_CELLS) is not None:
        pieces.append(_CELL)
    for child in node.children:
        _walk(child, pieces, preformatted=preformatted or name == "pre")
    pieces.append(separator)


def _pdf_text(content: bytes | str) -> str:
    if isinstance(content, str):
        raise UnreadableDocument("a PDF must be given as bytes, not text")
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("the PDF is encrypted with a password")
        pages = [_tidy(page.extract_text() or "") for page in reader.pages]
    except UnreadableDocument:
        raise
    except Exception as exc:  # pypdf fails on a malformed file in many ways, not only PyPdfError
        raise UnreadableDocument(f"not a readable PDF ({exc})") from None
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise UnreadableDocument("the PDF has no extractable text (a scanned image?)")
    return text
