import pytest
from knowledge.documents import FORMATS, UnreadableDocument, text_of


def pdf_with_text(*pages: str) -> bytes:
    """A minimal PDF whose pages show ``pages`` in Helvetica (pypdf writes no text itself)."""
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % p for p in page_ids), len(pages)),
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for page_id, text in zip(page_ids, pages, strict=True):
        lines = [f"({line}) Tj 0 -16 Td" for line in text.split("\n")]
        stream = f"BT /F1 12 Tf 72 720 Td {' '.join(lines)} ET".encode()
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font_id, page_id + 1)
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in sorted(objects))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_plain_text_is_decoded_and_normalised() -> None:
    raw = "\ufeffReturns\r\n\r\n\r\n\r\nYou have   60 days.\t Really.\r\n".encode()
    assert text_of("text", raw) == "Returns\n\nYou have 60 days. Really."


def test_bytes_that_are_not_utf8_say_where() -> None:
    with pytest.raises(UnreadableDocument, match="not valid UTF-8 at byte 17"):
        text_of("text", b"Shipping is free \xff on orders")


def test_markdown_loses_its_markup_and_keeps_its_structure() -> None:
    markdown = (
        "# Returns\n"
        "You have **60 days** to return, see [our policy](https://example.com/p).\n\n"
        "## What can be returned\n\n"
        "- unused items\n"
        "- items with *tags*\n\n"
        "Run `acme return` or:\n\n"
        "```\nstart  return\n```\n\n"
        "| Option | Price |\n|---|---|\n| Standard | $6.95 |\n"
    )
    assert text_of("markdown", markdown) == (
        "Returns\n\n"
        "You have 60 days to return, see our policy.\n\n"
        "What can be returned\n\n"
        "unused items\nitems with tags\n\n"
        "Run acme return or:\n\n"
        "start return\n\n"
        "Option, Price\nStandard, $6.95"
    )


def test_html_keeps_what_a_reader_reads() -> None:
    html = """<html><head><title>Stores</title><style>p { color: red }</style></head>
    <body><nav><a href="/">Home</a> &gt; Stores</nav>
    <h1>Our stores</h1><p>Open   <b>every</b>
    day.<br>Closed on holidays.</p><div>Denver</div><div>Boulder</div>
    <ul><li>Click and collect</li><li>Returns</li></ul>
    <script>track()</script><!-- a comment --></body></html>"""
    assert text_of("html", html) == (
        "Our stores\n\n"
        "Open every day.\nClosed on holidays.\n\n"
        "Denver\nBoulder\n\n"
        "Click and collect\nReturns"
    )


def test_html_without_text_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="the HTML has no text"):
        text_of("html", "<html><head><title>x</title></head><body><script>x()</script></body>")


def test_pdf_pages_are_joined_by_a_blank_line() -> None:
    pdf = pdf_with_text("Warranty and repairs\nFive years on own-brand gear.", "Page two")
    assert text_of("pdf", pdf) == "Warranty and repairs\nFive years on own-brand gear.\n\nPage two"


def test_a_pdf_without_text_says_so() -> None:
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    blank = BytesIO()
    writer.write(blank)
    with pytest.raises(UnreadableDocument, match=r"no extractable text \(a scanned image\?\)"):
        text_of("pdf", blank.getvalue())


def test_a_broken_pdf_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="not a readable PDF"):
        text_of("pdf", b"%PDF-1.4 this is not really a PDF")


def test_unknown_formats_and_empty_documents_are_refused() -> None:
    assert FORMATS == ("text", "markdown", "html", "pdf")
    with pytest.raises(UnreadableDocument, match="unknown format 'docx'"):
        text_of("docx", b"PK")
    with pytest.raises(UnreadableDocument, match="the document has no text"):
        text_of("text", " \n\n \t")
    with pytest.raises(UnreadableDocument, match="given as bytes"):
        text_of("pdf", "%PDF-1.4")
