"""``/api/v1/analytics/{query}`` and ``/api/v1/alerts`` through a real ``omium serve``.

Two tenants run workflows through the API; each key's answers count its own tenant's runs
only (an admin may name another tenant, a viewer may not), and the bodies are the same row
objects as ``omium analytics … --json``. On both logs: on Kafka the alert processor runs as
``omium alerts run`` beside the worker (the worker runs it on the embedded log only).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
from gateway_process import FLOW, STEPS, cli, free_port, omium, wait_ready

FAILING = """
name: gw-fail
steps:
  - {name: add, call: flow_steps:add}
  - {name: explode, call: flow_steps:boom}
"""
PROBLEM = "application/problem+json"


@dataclass
class Site:
    base: str
    url: str
    home: Path
    keys: dict[str, str] = field(default_factory=dict)

    def as_(self, who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=120)


def _key(url: str, home: Path, tenant: str, role: str) -> str:
    made = cli(
        "keys", "create", "--tenant", tenant, "--name", f"{tenant}-{role}", "--role", role,
        "--json", "--url", url, home=home,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return str(orjson.loads(made.stdout)["key"])


@pytest.fixture(scope="module", params=["sqlite-file", "kafka"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("analytics-api")
    if request.param == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        url = f"kafka://{bootstrap}?topic_prefix={uuid.uuid4().hex[:10]}.&timeout=20"
    else:
        url = f"sqlite:///{home / 'log.db'}"
    folder = home / "workflows"
    folder.mkdir()
    (folder / "flow_steps.py").write_text(STEPS.read_text())
    (folder / "flow.yaml").write_text(FLOW)
    (folder / "fail.yaml").write_text(FAILING)
    created = cli("topics", "create", "--url", url, home=home)
    assert created.returncode == 0, created.stderr
    port = free_port()
    s = Site(f"http://127.0.0.1:{port}", url, home)
    for tenant, role in [("a", "admin"), ("a", "viewer"), ("b", "operator")]:
        s.keys[f"{tenant}-{role}"] = _key(url, home, tenant, role)
    procs = [omium("worker", "--url", url, "--workflows", str(folder), home=home)]
    if request.param == "kafka":
        procs.append(omium("alerts", "run", "--url", url, home=home))
    procs.append(omium("serve", "--port", str(port), "--url", url, home=home))
    try:
        wait_ready(s.base, procs, home)
        yield s
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()


def _run(client: httpx.Client, workflow: str, execution_id: str, status: str) -> None:
    body = {"workflow": workflow, "execution_id": execution_id}
    got = client.post("/api/v1/executions", json=body)
    assert got.status_code == 202, got.text
    deadline = time.monotonic() + 90
    while True:
        got = client.get(f"/api/v1/executions/{execution_id}")
        if got.status_code == 200 and got.json()["status"] == status:
            return
        assert time.monotonic() < deadline, got.text
        time.sleep(0.2)


@pytest.fixture(scope="module")
def ran(site: Site) -> Site:
    """Tenant a: two runs of gw-flow and one failing gw-fail; tenant b: one gw-flow."""
    with site.as_("a-admin") as a, site.as_("b-operator") as b:
        _run(a, "gw-flow", "an-a1", "completed")
        _run(a, "gw-flow", "an-a2", "completed")
        _run(a, "gw-fail", "an-a3", "failed")
        _run(b, "gw-flow", "an-b1", "completed")
    return site


def _ok(client: httpx.Client, path: str) -> list[dict]:  # type: ignore[type-arg]
    got = client.get(path)
    assert got.status_code == 200, got.text
    return got.json()  # type: ignore[no-any-return]


def test_questions__each_tenant_counts_its_own_runs(ran: Site) -> None:
    with ran.as_("a-viewer") as a, ran.as_("b-operator") as b:
        steps = {r["key"]: r for r in _ok(a, "/api/v1/analytics/latency?by=step")}
        assert set(next(iter(steps.values()))) == {
            "key", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms",
        }  # fmt: skip
        assert {k: r["count"] for k, r in steps.items()} == {
            "add": 3, "wait": 2, "double": 2, "explode": 1,
        }  # fmt: skip
        assert steps["wait"]["p50_ms"] >= 50  # the slow step sleeps 50 ms
        theirs = {r["key"]: r["count"] for r in _ok(b, "/api/v1/analytics/latency?by=step")}
        assert theirs == {"add": 1, "wait": 1, "double": 1}

        failures = {r["key"]: r for r in _ok(a, "/api/v1/analytics/failures?by=workflow")}
        assert failures["gw-fail"] == {
            "key": "gw-fail", "executions": 1, "failed": 1, "failure_rate": 1.0,
            "top_error": "ValueError",
        }  # fmt: skip
        assert failures["gw-flow"]["failed"] == 0 and failures["gw-flow"]["executions"] == 2

        slowest = _ok(a, "/api/v1/analytics/slowest?limit=5")
        assert {r["execution_id"] for r in slowest} == {"an-a1", "an-a2", "an-a3"}
        assert [r["execution_id"] for r in _ok(b, "/api/v1/analytics/slowest")] == ["an-b1"]
        only = _ok(a, "/api/v1/analytics/slowest?workflow=gw-fail")
        assert [r["execution_id"] for r in only] == ["an-a3"]
        assert _ok(a, "/api/v1/analytics/cost?by=model") == []  # no LLM in these runs
        assert _ok(a, "/api/v1/analytics/tools") == []
        assert _ok(a, "/api/v1/analytics/latency?by=step&since=2000-01-01&until=2000-01-02") == []


def test_tenant__admin_may_name_another_a_viewer_may_not(ran: Site) -> None:
    with ran.as_("a-admin") as admin, ran.as_("a-viewer") as viewer:
        theirs = _ok(admin, "/api/v1/analytics/slowest?tenant=b")
        assert [r["execution_id"] for r in theirs] == ["an-b1"]
        got = viewer.get("/api/v1/analytics/slowest?tenant=b")
        assert got.status_code == 403 and got.headers["content-type"] == PROBLEM
        assert len(_ok(viewer, "/api/v1/analytics/slowest?tenant=a")) == 3  # its own: fine


def test_sql__admin_only_and_scoped_to_one_tenant(ran: Site) -> None:
    query = "SELECT DISTINCT tenant_id FROM events ORDER BY tenant_id"
    with ran.as_("a-admin") as admin, ran.as_("a-viewer") as viewer:
        got = admin.get("/api/v1/analytics/sql", params={"q": query})
        assert got.status_code == 200, got.text
        assert got.json() == {"columns": ["tenant_id"], "rows": [["a"]]}
        other = admin.get("/api/v1/analytics/sql", params={"q": query, "tenant": "b"})
        assert other.json()["rows"] == [["b"]]
        hidden = admin.get("/api/v1/analytics/sql", params={"q": "SELECT * FROM sink_batches"})
        assert hidden.json()["rows"] == []
        assert viewer.get("/api/v1/analytics/sql", params={"q": query}).status_code == 403
        for bad in ("DROP TABLE events", "SELECT FROM WHERE", "INSERT INTO steps VALUES (1)"):
            got = admin.get("/api/v1/analytics/sql", params={"q": bad})
            assert got.status_code == 422 and got.headers["content-type"] == PROBLEM, got.text
            assert "\n" not in got.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/analytics/latency?by=colour",
        "/api/v1/analytics/cost?by=planet",
        "/api/v1/analytics/failures?by=agent",
        "/api/v1/analytics/latency?since=2026-02-01&until=2026-01-01",
        "/api/v1/analytics/tools?since=yesterday",
        "/api/v1/analytics/slowest?limit=0",
    ],
)
def test_bad_input__422_problem(ran: Site, path: str) -> None:
    with ran.as_("a-viewer") as a:
        got = a.get(path)
        assert got.status_code == 422, got.text
        assert got.headers["content-type"] == PROBLEM
        assert a.get("/api/v1/analytics/nothing").status_code == 404


def test_alerts__listed_for_the_callers_tenant_only(ran: Site) -> None:
    with ran.as_("a-viewer") as a, ran.as_("b-operator") as b:
        deadline = time.monotonic() + 60
        while not (mine := _ok(a, "/api/v1/alerts?rule=execution-failed")):
            assert time.monotonic() < deadline, "no alert for the failed run"
            time.sleep(0.3)
        assert [(r["execution_id"], r["tenant_id"], r["kind"]) for r in mine] == [
            ("an-a3", "a", "execution_failed")
        ]
        assert _ok(a, "/api/v1/alerts?execution_id=an-a1") == []
        assert _ok(a, "/api/v1/alerts?since=2999-01-01T00:00:00") == []
        assert [r for r in _ok(b, "/api/v1/alerts") if r["execution_id"] == "an-a3"] == []
