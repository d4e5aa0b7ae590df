"""The REST API of a real ``omium serve``, over HTTP, on both runtimes."""

from __future__ import annotations

import itertools
import re
from datetime import datetime

import httpx
import pytest
from gateway_process import Gateway, sse

PROBLEM = "application/problem+json"


@pytest.mark.timeout(300)
def test_lifecycle__follow_pause_resume_rollback_replay_diff(gateway: Gateway) -> None:
    api = gateway.client
    gateway.submit("gw-1", slow_s=4)
    with api.stream("GET", "/api/v1/executions/gw-1/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        seen = []
        for message in sse(stream):
            seen.append(message)
            if message[1] == "step.started" and message[2]["event"]["payload"]["step"] == "wait":
                break
    paused = api.post("/api/v1/executions/gw-1/pause", json={"reason": "look first"})
    assert paused.status_code == 202, paused.text
    assert paused.json()["execution_id"] == "gw-1"
    gateway.wait("gw-1", lambda v: v["status"] == "paused")
    again = api.post("/api/v1/executions/gw-1/pause")
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert "already paused" in again.json()["detail"]
    assert api.post("/api/v1/executions/gw-1/resume").status_code == 202
    done = gateway.wait("gw-1", lambda v: v["status"] == "completed")
    assert done["output"]["total"] == 4

    rolled = api.post(
        "/api/v1/executions/gw-1/rollback", json={"checkpoint": "a1-0-add", "set": {"total": 10}}
    )
    assert rolled.status_code == 202, rolled.text
    assert rolled.json() | {"queued": False} == {
        "execution_id": "gw-1",
        "attempt": 2,
        "from_checkpoint": "a1-0-add",
        "status": "requested",
        "queued": False,
    }
    second = gateway.wait("gw-1", lambda v: v["attempt"] == 2 and v["status"] == "completed")
    assert second["output"]["total"] == 20
    assert second["branches"][0]["overrides"] == {"total": 10}

    replay = api.get("/api/v1/executions/gw-1/replay", params={"to_checkpoint": "a1-0-add"})
    assert replay.status_code == 200 and replay.json()["state"]["total"] == 2
    checkpoints = api.get("/api/v1/executions/gw-1/checkpoints").json()
    ids = [c["checkpoint_id"] for c in checkpoints]
    assert {"a1-0-add", "a1-2-double", "a2-2-double"} <= set(ids)
    diff = api.get("/api/v1/executions/gw-1/diff", params={"a": "a1-2-double", "b": "a2-2-double"})
    assert diff.json()["changed"]["total"] == {"from": 4, "to": 20}

    # the whole stream, again from the start: exactly the recorded events, in log order
    events = api.get("/api/v1/executions/gw-1/events").json()
    with api.stream("GET", "/api/v1/executions/gw-1/stream") as stream:
        streamed = list(sse(stream))
    assert [m[0] for m in streamed] == [e["position"]["offset"] for e in events]
    assert [m[2] for m in streamed] == events
    timeline = api.get("/api/v1/executions/gw-1/timeline").json()
    assert len(timeline) == len(events)
    listed = api.get("/api/v1/executions").json()
    assert "gw-1" in [e["execution_id"] for e in listed["executions"]]


def test_stream__reconnecting_with_last_event_id_loses_and_repeats_nothing(
    gateway: Gateway,
) -> None:
    api = gateway.client
    gateway.submit("gw-2", slow_s=2)
    with api.stream("GET", "/api/v1/executions/gw-2/stream") as stream:
        first = list(itertools.islice(sse(stream), 3))
    last = first[-1][0]
    with api.stream(
        "GET", "/api/v1/executions/gw-2/stream", headers={"Last-Event-ID": str(last)}
    ) as stream:
        rest = list(sse(stream))
    got = [m[0] for m in first + rest]
    events = api.get("/api/v1/executions/gw-2/events").json()
    assert got == [e["position"]["offset"] for e in events]
    assert len(set(got)) == len(got)
    assert rest[-1][1] == "execution.completed"


@pytest.mark.parametrize("gateway", ["sqlite-file"], indirect=True)
def test_errors__are_problem_json_with_the_right_status(gateway: Gateway) -> None:
    api = gateway.client
    gateway.submit("gw-3")
    gateway.wait("gw-3", lambda v: v["status"] == "completed")

    def problem(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == status and body["type"].startswith("https://")
        return str(body["detail"])

    assert "no execution 'nope'" in problem(api.get("/api/v1/executions/nope"), 404)
    assert "no execution" in problem(api.get("/api/v1/executions/nope/checkpoints"), 404)
    assert "nothing to cancel" in problem(api.post("/api/v1/executions/gw-3/cancel"), 409)
    unknown_key = api.post(
        "/api/v1/executions/gw-3/rollback", json={"checkpoint": "a1-0-add", "set": {"nope": 1}}
    )
    assert "has no such key" in problem(unknown_key, 422)
    no_checkpoint = api.post(
        "/api/v1/executions/gw-3/rollback", json={"checkpoint": "zzz", "set": {}}
    )
    assert "no checkpoint 'zzz'" in problem(no_checkpoint, 404)
    assert "checkpoint" in problem(api.post("/api/v1/executions/gw-3/rollback", json={}), 422)
    not_json = api.post(
        "/api/v1/executions/gw-3/rollback",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    problem(not_json, 422)
    huge = api.post("/api/v1/executions/gw-3/pause", json={"reason": "x" * (2 << 20)})
    assert "over" in problem(huge, 413)
    assert "cursor" in problem(api.get("/api/v1/executions", params={"cursor": "zz"}), 422)
    assert "limit" in problem(api.get("/api/v1/executions", params={"limit": 0}), 422)
    assert "last-event-id" in problem(
        api.get("/api/v1/executions/gw-3/stream", headers={"Last-Event-ID": "x"}), 422
    )


@pytest.mark.parametrize("gateway", ["sqlite-file"], indirect=True)
def test_list__pages_newest_first_with_a_cursor(gateway: Gateway) -> None:
    api = gateway.client
    for i in range(5):
        gateway.submit(f"page-{i}")
    for i in range(5):
        gateway.wait(f"page-{i}", lambda v: v["status"] == "completed")
    seen: list[dict] = []  # type: ignore[type-arg]
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/v1/executions", params=params).json()
        assert len(page["executions"]) <= 2
        seen += page["executions"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [e["execution_id"] for e in seen]
    assert len(ids) == len(set(ids))  # no execution on two pages
    assert {f"page-{i}" for i in range(5)} <= set(ids)
    # newest first: by the time the worker started each (it may take them in any order)
    keys = [(datetime.fromisoformat(e["submitted_at"]), e["execution_id"]) for e in seen]
    assert keys == sorted(keys, reverse=True)
    assert seen == api.get("/api/v1/executions", params={"limit": 500}).json()["executions"]
    only = api.get("/api/v1/executions", params={"workflow": "nope"}).json()
    assert only == {"executions": [], "next_cursor": None}


@pytest.mark.parametrize("gateway", ["sqlite-file"], indirect=True)
def test_ops__health_ready_metrics_openapi(gateway: Gateway) -> None:
    api = gateway.client
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"ready": True, "log": "ok", "projections": "ok"}
    api.get("/api/v1/executions/nope")
    metrics = api.get("/metrics").text
    assert (
        'omium_http_requests_total{method="GET",route="/api/v1/executions/{execution_id}",status="404"}'
        in metrics
    )
    spec = api.get("/openapi.json").json()
    paths = set(spec["paths"])
    for path in ("/executions", "/executions/{execution_id}", "/executions/{execution_id}/stream"):
        assert "/api/v1" + path in paths
    assert "Problem" in spec["components"]["schemas"]
    assert 'omium_consumer_lag{group="projections",topic="omium.events"}' in metrics


@pytest.mark.parametrize("gateway", ["sqlite-file"], indirect=True)
def test_submit__by_name_idempotent_with_a_key(gateway: Gateway) -> None:
    api = gateway.client
    listed = api.get("/api/v1/workflows").json()
    assert [(w["name"], w["current"]) for w in listed] == [("gw-flow", True)]
    version = listed[0]["version"]
    body = {"workflow": "gw-flow", "inputs": {"total": 7}}
    first = api.post("/api/v1/executions", json=body, headers={"Idempotency-Key": "k-1"})
    again = api.post("/api/v1/executions", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert first.json()["version"] == version and first.json()["status"] == "queued"
    ex = first.json()["execution_id"]
    done = gateway.wait(ex, lambda v: v["status"] == "completed")
    assert done["output"]["total"] == 16
    events = api.get(f"/api/v1/executions/{ex}/events").json()
    assert [e["event"]["type"] for e in events].count("execution.started") == 1
    other = api.post(
        "/api/v1/executions",
        json={"workflow": "gw-flow", "inputs": {"total": 8}},
        headers={"Idempotency-Key": "k-1"},
    )
    assert other.status_code == 409 and "other inputs" in other.json()["detail"]
    unknown = api.post("/api/v1/executions", json={"workflow": "nope"})
    assert unknown.status_code == 404 and "no workflow 'nope'" in unknown.json()["detail"]
    stale = api.post("/api/v1/executions", json={"workflow": "gw-flow", "version": "v-0"})
    assert stale.status_code == 404 and version in stale.json()["detail"]


@pytest.mark.parametrize("gateway", ["sqlite-file"], indirect=True)
def test_docs__swagger_ui_and_every_asset_it_names_come_from_the_gateway(
    gateway: Gateway,
) -> None:
    api = gateway.client
    page = api.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    # what a browser fetches from the page: src= and href= of tags, and the spec it loads
    named = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    named += re.findall(r"""url: ?["']([^"']+)["']""", html)
    assert any("swagger-ui-bundle.js" in u for u in named), html
    assert any("swagger-ui.css" in u for u in named) and "/openapi.json" in named
    for url in named:
        assert url.startswith("/"), f"{url}: not served by the gateway"
        got = api.get(url)
        assert got.status_code == 200 and got.content, url
    assert "validatorUrl" in html  # the validator badge (validator.swagger.io) is off
    assert api.get("/docs/assets/nope.js").status_code == 404
    assert "SwaggerUIBundle" in api.get(next(u for u in named if "bundle.js" in u)).text
