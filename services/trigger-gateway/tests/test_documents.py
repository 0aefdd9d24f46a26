"""Knowledge-base documents: uploaded in four formats, their text extracted and chunked,
paged, re-indexed as a new revision (the old chunks gone), deleted with their chunks and
attachments; the plan's limits on how many and how large (409 and 413 naming the limit);
another tenant's are not found; and a large upload passes the body limit on these routes only.
Each test runs on the in-memory database and on FerretDB (``resources_db``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from contracts.ai import DOCUMENT_CHUNKS, DOCUMENT_FORMATS, PLANS, chunk_ref
from trigger_gateway.domain.documents import Format

FAQ = """Shipping

Orders ship within two business days from our warehouse in Lisbon.

Returns

You can return any item within 30 days for a full refund. Refunds reach your card in five
days."""


async def upload(kb: Any, body: dict[str, Any] | None = None, key: str = "key-a") -> dict[str, Any]:
    sent = body or {"title": "FAQ", "format": "text", "content": FAQ}
    answer = await kb.client.post("/v1/documents", json=sent, headers=kb.as_tenant(key))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def pdf_with(text: str) -> bytes:
    """A one-page PDF showing ``text`` (Helvetica), with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_the_formats_are_the_contracts() -> None:
    assert set(Format.__args__) == set(DOCUMENT_FORMATS)  # type: ignore[attr-defined]


async def test_an_upload_is_extracted_chunked_and_answered_without_its_text(kb) -> None:
    made = await upload(
        kb, {"title": "FAQ", "format": "text", "content": FAQ, "metadata": {"lang": "en"}}
    )
    assert made["id"].startswith("doc_") and len(made["id"]) == 28
    assert made["revision"] == 1 and made["format"] == "text"
    assert made["bytes"] == len(FAQ.encode()) and made["characters"] > 100
    assert made["chunk_count"] >= 1 and made["metadata"] == {"lang": "en"}
    assert "text" not in made and "content" not in made
    stored = await kb.db.documents.find_one({"_id": made["id"]})
    assert "30 days" in stored["text"] and stored["tenant_id"] == "ten_a"
    chunk = await kb.db[DOCUMENT_CHUNKS].find_one({"_id": chunk_ref(made["id"], 1, 0)})
    assert chunk["document_id"] == made["id"] and chunk["revision"] == 1 and chunk["seq"] == 0
    assert chunk["title"] == "FAQ" and chunk["tenant_id"] == "ten_a"
    assert {"text", "start", "end", "heading"} <= set(chunk)
    got = await kb.client.get(f"/v1/documents/{made['id']}", headers=kb.as_tenant())
    assert got.status_code == 200 and got.json() == made


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"format": "markdown", "content": "# Returns\n\nWithin **30 days**."}, "30 days"),
        (
            {"format": "html", "content": "<h1>Returns</h1><script>x()</script><p>30 days</p>"},
            "30 days",
        ),
        (
            {"format": "text", "content_base64": base64.b64encode(b"Refunds in 30 days").decode()},
            "30 days",
        ),
        (
            {
                "format": "pdf",
                "content_base64": base64.b64encode(pdf_with("Refunds in 30 days")).decode(),
            },
            "30 days",
        ),
    ],
    ids=["markdown", "html", "text-as-base64", "pdf"],
)
async def test_each_format_gives_its_text(kb, body, says) -> None:
    made = await upload(kb, {"title": "Returns", **body})
    stored = await kb.db.documents.find_one({"_id": made["id"]})
    assert says in stored["text"] and "<" not in stored["text"] and "script" not in stored["text"]


@pytest.mark.parametrize(
    ("body", "name", "says"),
    [
        ({"format": "text"}, "body.content", "exactly one"),
        (
            {"format": "text", "content": "a", "content_base64": "YQ=="},
            "body.content",
            "exactly one",
        ),
        ({"format": "pdf", "content": "%PDF-1.4"}, "body.content", "content_base64"),
        ({"format": "pdf", "content_base64": "not base64!"}, "body.content_base64", "base64"),
        (
            {"format": "pdf", "content_base64": base64.b64encode(b"no pdf").decode()},
            "body.content_base64",
            "PDF",
        ),
        ({"format": "text", "content": "   \n  "}, "body.content", "no text"),
        ({"format": "html", "content": "<script>only()</script>"}, "body.content", "no text"),
        (
            {"format": "text", "content_base64": base64.b64encode(b"\xff\xfe\xfa").decode()},
            "body.content_base64",
            "UTF-8",
        ),
    ],
)
async def test_what_cannot_be_read_is_422_naming_the_field_and_why(
    kb, expect_problem, body, name, says
) -> None:
    answer = await kb.client.post(
        "/v1/documents", json={"title": "x", **body}, headers=kb.as_tenant()
    )
    problem = expect_problem(answer, 422)
    assert problem["errors"][0]["name"] == name and says in problem["errors"][0]["reason"]
    assert await kb.db.documents.count_documents({}) == 0


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"title": "", "format": "text", "content": "x"}, "body.title"),
        ({"title": "t" * 201, "format": "text", "content": "x"}, "body.title"),
        ({"title": "t", "format": "docx", "content": "x"}, "body.format"),
        (
            {"title": "t", "format": "text", "content": "x", "metadata": {"a.b": "x"}},
            "body.metadata.a.b.[key]",
        ),
        ({"title": "t", "format": "text", "content": "x", "extra": 1}, "body.extra"),
    ],
)
async def test_the_body_is_validated_naming_the_field(kb, expect_problem, body, name) -> None:
    answer = await kb.client.post("/v1/documents", json=body, headers=kb.as_tenant())
    assert name in [e["name"] for e in expect_problem(answer, 422)["errors"]]


async def test_a_document_larger_than_the_plan_allows_is_413_naming_the_limit(
    kb, expect_limit
) -> None:
    most = PLANS["free"].maxDocumentBytes
    answer = await kb.client.post(
        "/v1/documents",
        json={"title": "Big", "format": "text", "content": "word " * (most // 5 + 1)},
        headers=kb.as_tenant(),
    )
    problem = expect_limit(answer, 413, "maxDocumentBytes")
    assert problem["plan"] == "free" and problem["current"] > most
    assert await kb.db.documents.count_documents({}) == 0
    await kb.set_plan("starter")  # the same upload fits a larger plan
    await upload(kb, {"title": "Big", "format": "text", "content": "word " * (most // 5 + 1)})


async def test_an_upload_up_to_the_largest_plan_passes_the_body_limit_on_this_route_only(
    kb, expect_problem
) -> None:
    settings = kb.gw.client.app.app.state.gateway.settings
    assert settings.max_document_body_bytes > PLANS["enterprise"].maxDocumentBytes * 4 // 3
    await kb.set_plan("enterprise")
    big = base64.b64encode(b"lorem ipsum " * (2 * settings.max_body_bytes // 12)).decode()
    made = await upload(kb, {"title": "Big", "format": "text", "content_base64": big})
    assert made["bytes"] > 2 * settings.max_body_bytes - 12
    # another route keeps its limit (413 from the request guard, naming it)
    answer = await kb.client.post(
        "/v1/contacts", json={"name": "x" * (settings.max_body_bytes + 1)}, headers=kb.as_tenant()
    )
    assert "bytes" in expect_problem(answer, 413)["detail"]
    # a body past the route's own limit is a problem too, never a 500
    answer = await kb.client.post(
        "/v1/documents",
        content=b'{"title": "x", "format": "text", "content": "'
        + b"a" * settings.max_document_body_bytes
        + b'"}',
        headers={**kb.as_tenant(), "Content-Type": "application/json"},
    )
    assert str(settings.max_document_body_bytes) in expect_problem(answer, 413)["detail"]


async def test_more_documents_than_the_plan_allows_is_409_naming_the_limit(
    kb, expect_limit
) -> None:
    most = PLANS["free"].maxDocuments
    for n in range(most):
        await kb.db.documents.insert_one(
            {"_id": f"doc_{n:024x}", "tenant_id": "ten_a", "title": "t", "created_at": n}
        )
    answer = await kb.client.post(
        "/v1/documents",
        json={"title": "one more", "format": "text", "content": FAQ},
        headers=kb.as_tenant(),
    )
    problem = expect_limit(answer, 409, "maxDocuments")
    assert (
        problem["detail"] == f"plan free allows {most} documents (maxDocuments); there are {most}"
    )
    assert problem["current"] == most
    await upload(kb, key="key-b")  # another tenant counts its own


async def test_listing_pages_newest_first_without_text(kb, expect_problem) -> None:
    made = [
        await upload(kb, {"title": f"Doc {n}", "format": "text", "content": FAQ}) for n in range(3)
    ]
    await upload(kb, key="key-b")
    first = (await kb.client.get("/v1/documents?limit=2", headers=kb.as_tenant())).json()
    assert [d["title"] for d in first["documents"]] == ["Doc 2", "Doc 1"]
    second = await kb.client.get(
        f"/v1/documents?limit=2&cursor={first['next_cursor']}", headers=kb.as_tenant()
    )
    assert [d["id"] for d in second.json()["documents"]] == [made[0]["id"]]
    assert second.json()["next_cursor"] is None
    assert all("text" not in d for d in first["documents"])
    wrong = await kb.client.get("/v1/documents?cursor=bm9wZQ", headers=kb.as_tenant())
    assert expect_problem(wrong, 422)["errors"][0]["name"] == "query.cursor"


async def test_chunks_page_by_seq(kb) -> None:
    text = "\n\n".join(f"Paragraph {n}. " + "filler words here " * 30 for n in range(12))
    made = await upload(kb, {"title": "Long", "format": "text", "content": text})
    assert made["chunk_count"] > 4
    seen: list[int] = []
    cursor = None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (
            await kb.client.get(f"/v1/documents/{made['id']}/chunks{query}", headers=kb.as_tenant())
        ).json()
        assert page["revision"] == 1 and len(page["chunks"]) <= 3
        seen += [c["seq"] for c in page["chunks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(made["chunk_count"]))


async def test_a_reupload_is_the_next_revision_and_replaces_the_chunks(kb) -> None:
    made = await upload(kb)
    answer = await kb.client.put(
        f"/v1/documents/{made['id']}",
        json={
            "title": "Returns policy",
            "format": "markdown",
            "content": "# Returns\n\nWithin 60 days.",
        },
        headers=kb.as_tenant(),
    )
    assert answer.status_code == 200, answer.text
    after = answer.json()
    assert (
        after["revision"] == 2
        and after["title"] == "Returns policy"
        and after["format"] == "markdown"
    )
    assert after["created_at"] == made["created_at"] and after["updated_at"] > made["updated_at"]
    chunks = [c async for c in kb.db[DOCUMENT_CHUNKS].find({"document_id": made["id"]})]
    assert {c["revision"] for c in chunks} == {2} and len(chunks) == after["chunk_count"]
    assert all(c["title"] == "Returns policy" for c in chunks)
    page = (
        await kb.client.get(f"/v1/documents/{made['id']}/chunks", headers=kb.as_tenant())
    ).json()
    assert page["revision"] == 2 and "60 days" in page["chunks"][0]["text"]


async def test_delete_removes_the_document_its_chunks_and_its_attachments(
    kb, expect_problem
) -> None:
    made = await upload(kb)
    kept = await upload(kb, {"title": "Other", "format": "text", "content": FAQ})
    workflow = await kb.workflow()
    for doc in (made, kept):
        attached = await kb.client.post(
            f"/v1/workflow-resources/{workflow}/documents/{doc['id']}", headers=kb.as_tenant()
        )
        assert attached.status_code == 201, attached.text
    revision = (await kb.stored_workflow(workflow))["resources_revision"]
    answer = await kb.client.delete(f"/v1/documents/{made['id']}", headers=kb.as_tenant())
    assert answer.status_code == 204
    assert await kb.db.documents.find_one({"_id": made["id"]}) is None
    assert await kb.db[DOCUMENT_CHUNKS].count_documents({"document_id": made["id"]}) == 0
    assert await kb.db[DOCUMENT_CHUNKS].count_documents({"document_id": kept["id"]}) > 0
    resources = (
        await kb.client.get(f"/v1/workflow-resources/{workflow}", headers=kb.as_tenant())
    ).json()
    assert [d["id"] for d in resources["documents"]] == [kept["id"]]
    assert (await kb.stored_workflow(workflow))["resources_revision"] == revision + 1
    expect_problem(
        await kb.client.delete(f"/v1/documents/{made['id']}", headers=kb.as_tenant()), 404
    )


async def test_another_tenants_document_is_not_found_anywhere(kb, expect_problem) -> None:
    theirs = await upload(kb, key="key-b")
    path = f"/v1/documents/{theirs['id']}"
    body = {"title": "mine now", "format": "text", "content": "x y z"}
    for answer in (
        await kb.client.get(path, headers=kb.as_tenant()),
        await kb.client.get(path + "/chunks", headers=kb.as_tenant()),
        await kb.client.put(path, json=body, headers=kb.as_tenant()),
        await kb.client.delete(path, headers=kb.as_tenant()),
    ):
        assert expect_problem(answer, 404)["detail"] == f"no document {theirs['id']}"
    listed = (await kb.client.get("/v1/documents", headers=kb.as_tenant())).json()
    assert listed["documents"] == []
    still = await kb.client.get(path, headers=kb.as_tenant("key-b"))
    assert still.status_code == 200 and still.json()["revision"] == 1


async def test_a_malformed_id_is_422(kb, expect_problem) -> None:
    answer = await kb.client.get("/v1/documents/doc_nope", headers=kb.as_tenant())
    expect_problem(answer, 422)
