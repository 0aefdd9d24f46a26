"""What no route may see is answered by the request guard: a body over the limit (413 naming
it, before the body is read whole), NUL characters and invalid Unicode anywhere in the input
(422 naming where), and what BSON or JSON cannot hold. None of it reaches a repository."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from trigger_gateway.app import create_app
from trigger_gateway.domain.input_text import (
    Refused,
    check_json_body,
    check_json_input,
    check_query,
)
from trigger_gateway.settings import Settings

GOOD = {"conversation_id": "conv-1", "channel": "chat", "payload": {"text": "hi"}}


class Untouchable:
    """A repository that must not be reached."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the repository was reached: {name}")


@pytest.fixture
def sealed(gw: Any) -> Any:
    """The harness with workflows, executions and connections that fail the test if used."""
    gateway = gw.client.app.app.state.gateway
    for name in ("workflows", "executions", "connections", "dead_letters"):
        object.__setattr__(gateway, name, Untouchable())
    return gw


def test_a_body_over_the_limit_is_413_naming_the_limit(expect_problem, gw, builder_json) -> None:
    big = builder_json()
    big["description"] = "x" * (1 << 20)
    response = gw.client.post("/v1/workflows", json=big, headers=gw.as_tenant())
    problem = expect_problem(response, 413)
    assert "1048576 bytes" in problem["detail"]
    assert problem["type"] == "urn:connectflo:problem:body-too-large"
    assert gw.workflows.workflows == {}


async def test_the_limit_is_a_setting_and_counts_bytes_as_they_arrive() -> None:
    app = create_app(Settings(max_body_bytes=1000))
    reached = []

    @app.post("/echo")
    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        reached.append(body)
        return body

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        answer = await client.post(
            "/echo", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 413 and "1000 bytes" in answer.json()["detail"]
        small = await client.post("/echo", json={"a": "x" * 900})
        assert small.status_code == 200
    assert len(reached) == 1


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/workflows?cursor=%00", "query.cursor"),
        ("/v1/workflows?cursor=%ff%fe", "query.cursor"),
        ("/v1/workflows/wf%00x", "path"),
        ("/v1/workflows/wf%c3%28", "path"),
        ("/v1/workflows/x/executions?status=completed&since=%00", "query.since"),
        ("/v1/dead-letters?consumer=a%00b", "query.consumer"),
        ("/v1/executions?trigger_id=%00", "query.trigger_id"),
    ],
)
def test_nul_or_invalid_utf8_in_the_path_or_query_is_422(
    expect_problem, sealed, path, name
) -> None:
    problem = expect_problem(sealed.client.get(path, headers=sealed.as_tenant()), 422)
    assert [e["name"] for e in problem["errors"]] == [name]


def test_nul_in_a_header_that_is_read_is_422(expect_problem, sealed) -> None:
    response = sealed.client.get("/v1/dead-letters", headers={"X-Admin-Token": "a\x00b"})
    problem = expect_problem(response, 422)
    assert problem["errors"][0]["name"] == "header.x-admin-token"


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b'{"mode": "echo\\u0000"}', "body.mode"),
        (b'{"mode": "echo", "a\\u0000b": 1}', "body.a\\x00b"),
        (b'{"mode": "\\ud800"}', "body.mode"),
        (b'{"mode": "echo", "x": [1, {"y": "\\udfff"}]}', "body.x[1].y"),
        (b'{"mode": "\xff"}', "body"),
        (b'{"mode": "http", "timeout_seconds": NaN}', "body"),
        (b'{"mode": "http", "timeout_seconds": 1e400}', "body.timeout_seconds"),
        (b'{"mode": "echo", "n": 100000000000000000000}', "body.n"),
        (b"[" * 70 + b"]" * 70, "body" + "[0]" * 65),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
    ],
)
def test_what_a_json_body_cannot_carry_is_422(expect_problem, sealed, content, name) -> None:
    response = sealed.client.post(
        "/v1/connections",
        content=content,
        headers={**sealed.as_tenant(), "Content-Type": "application/json"},
    )
    problem = expect_problem(response, 422)
    assert [e["name"] for e in problem["errors"]] == [name]


def test_a_nul_in_a_trigger_goes_neither_to_kafka_nor_through_the_fast_lane(
    expect_problem, gw
) -> None:
    for body in (
        {**GOOD, "payload": {"text": "a\x00b"}},
        {**GOOD, "customer": {"na\x00me": "Ada"}},
        {**GOOD, "conversation_id": "c\ud800"},
    ):
        content = json.dumps(body).encode()
        response = gw.client.post(
            "/v1/events/incoming_message",
            content=content,
            headers={**gw.as_tenant(), "Content-Type": "application/json"},
        )
        expect_problem(response, 422)
    assert gw.broker.published == []


def test_nul_free_unicode_is_accepted(gw) -> None:
    body = {**GOOD, "payload": {"text": "gr\u00fc\u00df dich \U0001f600", "\u00e9": "\\u0000"}}
    response = gw.client.post("/v1/events/incoming_message", json=body, headers=gw.as_tenant())
    assert response.status_code == 202
    assert json.loads(gw.broker.published[0]["value"])["payload"] == body["payload"]


def test_the_checks_name_where_and_why() -> None:
    with pytest.raises(Refused) as refused:
        check_json_body(b'{"a": {"b": ["ok", "\\u0000"]}}')
    assert (refused.value.name, refused.value.reason) == ("body.a.b[1]", "contains a NUL character")
    with pytest.raises(Refused, match=r"query\.q"):
        check_query(b"a=1&q=x%00")
    check_query(b"a=1&b=%C3%A9&c=a+b&&d")
    assert check_json_body(b"\xef\xbb\xbf[1]") == [1]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(["\x00", "\ud800"])),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


@given(value=json_values, ascii_only=st.booleans())
def test_the_fast_check_refuses_exactly_what_the_full_walk_refuses(
    value: Any, ascii_only: bool
) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")

    def refused(check: Any) -> bool:
        try:
            check(raw)
        except Refused:
            return True
        return False

    assert refused(check_json_input) == refused(check_json_body)
