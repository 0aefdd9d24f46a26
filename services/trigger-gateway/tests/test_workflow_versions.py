"""Publishing, listing and activating versions through the routes."""

from __future__ import annotations


def created(gw, builder_json) -> str:
    response = gw.client.post("/v1/workflows", json=builder_json(), headers=gw.as_tenant())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_put_publishes_the_next_version_without_changing_the_active_one(gw, builder_json) -> None:
    wf = created(gw, builder_json)
    assert (
        gw.client.post(f"/v1/workflows/{wf}/activate", headers=gw.as_tenant()).json()[
            "active_version"
        ]
        == 1
    )
    response = gw.client.put(
        f"/v1/workflows/{wf}", json=builder_json("Greeting v2"), headers=gw.as_tenant()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["latest_version"], body["active_version"]) == (2, 2, 1)
    assert body["is_active"] is True


def test_put_with_activate_runs_the_new_version(gw, builder_json) -> None:
    wf = created(gw, builder_json)
    response = gw.client.put(
        f"/v1/workflows/{wf}",
        params={"activate": "true"},
        json=builder_json(),
        headers=gw.as_tenant(),
    )
    assert response.json()["active_version"] == 2
    assert response.json()["is_active"] is True


def test_put_of_an_invalid_definition_is_422_and_publishes_nothing(gw, builder_json) -> None:
    wf = created(gw, builder_json)
    bad = builder_json()
    bad["nodes"][1]["label"] = ""
    response = gw.client.put(f"/v1/workflows/{wf}", json=bad, headers=gw.as_tenant())
    assert response.status_code == 422
    problem = response.json()
    assert "node 'r'" in problem["detail"]
    assert problem["errors"] == [
        {"name": "body.nodes[1]", "reason": "unknown node", "node_id": "r"}
    ]
    assert gw.workflows.workflows[wf]["latest_version"] == 1


def test_another_tenants_workflow_is_404_for_every_version_route(gw, builder_json) -> None:
    wf = created(gw, builder_json)
    other = gw.as_tenant("key-b")
    assert (
        gw.client.put(f"/v1/workflows/{wf}", json=builder_json(), headers=other).status_code == 404
    )
    for path in ("versions", "versions/1", "executions"):
        assert gw.client.get(f"/v1/workflows/{wf}/{path}", headers=other).status_code == 404
    for action in ("activate", "deactivate"):
        assert gw.client.post(f"/v1/workflows/{wf}/{action}", headers=other).status_code == 404
    assert gw.workflows.workflows[wf]["is_active"] is False


def test_versions_are_listed_newest_first_with_the_active_one_marked(gw, builder_json) -> None:
    wf = created(gw, builder_json)
    for n in (2, 3):
        gw.client.put(f"/v1/workflows/{wf}", json=builder_json(f"v{n}"), headers=gw.as_tenant())
    gw.client.post(f"/v1/workflows/{wf}/activate", json={"version": 2}, headers=gw.as_tenant())
    first = gw.client.get(f"/v1/workflows/{wf}/versions?limit=2", headers=gw.as_tenant()).json()
    assert [(v["version"], v["active"]) for v in first["versions"]] == [(3, False), (2, True)]
    assert first["active_version"] == 2 and first["latest_version"] == 3
    rest = gw.client.get(
        f"/v1/workflows/{wf}/versions",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=gw.as_tenant(),
    ).json()
    assert [v["version"] for v in rest["versions"]] == [1]
    assert rest["next_cursor"] is None


def test_one_version_has_its_definition(gw, builder_json) -> None:
    wf = created(gw, builder_json)
    gw.client.put(f"/v1/workflows/{wf}", json=builder_json("Second"), headers=gw.as_tenant())
    v1 = gw.client.get(f"/v1/workflows/{wf}/versions/1", headers=gw.as_tenant()).json()
    assert v1["definition"]["name"] == "Greeting"
    missing = gw.client.get(f"/v1/workflows/{wf}/versions/9", headers=gw.as_tenant())
    assert missing.status_code == 404


def test_activating_a_version_that_does_not_exist_is_422(gw, builder_json) -> None:
    wf = created(gw, builder_json)
    for version in (7, 0):
        response = gw.client.post(
            f"/v1/workflows/{wf}/activate", json={"version": version}, headers=gw.as_tenant()
        )
        assert response.status_code == 422, response.text
    assert gw.workflows.workflows[wf]["is_active"] is False


def test_deactivate_keeps_the_pinned_version_and_activate_defaults_to_latest(
    gw, builder_json
) -> None:
    wf = created(gw, builder_json)
    gw.client.post(f"/v1/workflows/{wf}/activate", headers=gw.as_tenant())
    off = gw.client.post(f"/v1/workflows/{wf}/deactivate", headers=gw.as_tenant()).json()
    assert off["is_active"] is False and off["active_version"] == 1
    gw.client.put(f"/v1/workflows/{wf}", json=builder_json(), headers=gw.as_tenant())
    on = gw.client.post(f"/v1/workflows/{wf}/activate", headers=gw.as_tenant()).json()
    assert on["is_active"] is True and on["active_version"] == 2


def test_workflows_are_listed_per_tenant_with_paging(gw, builder_json) -> None:
    ids = [created(gw, builder_json) for _ in range(3)]
    gw.client.post("/v1/workflows", json=builder_json(), headers=gw.as_tenant("key-b"))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = gw.client.get("/v1/workflows", params=params, headers=gw.as_tenant()).json()
        seen += [w["id"] for w in page["workflows"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)


def test_a_cursor_that_was_not_handed_out_is_422(gw) -> None:
    for cursor in ("garbage!", "WyJ4Il0"):
        response = gw.client.get("/v1/workflows", params={"cursor": cursor}, headers=gw.as_tenant())
        assert response.status_code == 422
        assert "cursor" in response.json()["detail"]
