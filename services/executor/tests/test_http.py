"""The executor's HTTP routes, without its start-up (no Kafka or MongoDB here): health says
the consumers are not running, metrics are served in place, validation answers."""

from __future__ import annotations

from executor.app import create_app
from starlette.testclient import TestClient


def client() -> TestClient:
    return TestClient(create_app())  # not entered: the lifespan (start-up) does not run


def test_health_and_readiness_are_503_until_start_up_is_done() -> None:
    for path in ("/healthz", "/readyz"):
        answer = client().get(path)
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "5"


def test_metrics_are_served_at_their_path_without_a_redirect() -> None:
    answer = client().get("/metrics", follow_redirects=False)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")


def test_validation_names_what_is_wrong() -> None:
    c = client()
    for body in (b"{oops", b'{"name": "\xff"}', b"[" * 100_000):
        bad = c.post("/v1/workflows/validate", content=body)
        assert bad.status_code == 400
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["status"] == 400 and bad.json()["errors"][0]["name"] == "body"
    assert c.get("/v1/workflows/validate").status_code == 405
    answer = c.post("/v1/workflows/validate", json={"nodes": [], "edges": []})
    assert answer.status_code == 200 and answer.json()["problems"]


def test_unknown_routes_and_methods_are_problems() -> None:
    c = client()
    for answer, status in ((c.get("/v1/nope"), 404), (c.get("/v1/workflows/validate"), 405)):
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == status and answer.json()["detail"]
