"""API keys and tenants through a real ``omium serve``: nothing of one tenant reaches another."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
from gateway_process import FLOW, STEPS, cli, free_port, omium, wait_ready

RATE = 40  # requests a second per key (and the burst): above what one test asks of a key


class Tenants:
    def __init__(self, base: str, url: str, home: Path) -> None:
        self.base, self.url, self.home = base, url, home
        self.keys: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    def key(self, tenant: str, role: str) -> str:
        made = cli(
            "keys", "create", "--tenant", tenant, "--name", f"{tenant}-{role}", "--role", role,
            "--json", "--url", self.url, home=self.home,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        body = orjson.loads(made.stdout)
        assert set(body) == {"key", "key_id", "tenant", "role", "name"}
        self.ids[f"{tenant}-{role}"] = body["key_id"]
        return str(body["key"])

    def as_(self, who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    home = tmp_path_factory.mktemp("tenants")
    folder = home / "workflows"
    folder.mkdir()
    (folder / "flow_steps.py").write_text(STEPS.read_text())
    (folder / "flow.yaml").write_text(FLOW)
    url = f"sqlite:///{home / 'log.db'}"
    port = free_port()
    t = Tenants(f"http://127.0.0.1:{port}", url, home)
    for tenant, role in [("a", "admin"), ("a", "operator"), ("a", "viewer"), ("b", "operator")]:
        t.keys[f"{tenant}-{role}"] = t.key(tenant, role)
    env = {"OMIUM_API_RATE": str(RATE), "OMIUM_API_BURST": str(RATE)}
    worker = omium("worker", "--url", url, "--workflows", str(folder), home=home)
    serve = omium("serve", "--port", str(port), "--url", url, home=home, env=env)
    try:
        wait_ready(t.base, [worker, serve], home)
        yield t
    finally:
        for proc in (serve, worker):
            proc.terminate()
        for proc in (serve, worker):
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()


def submit(client: httpx.Client, execution_id: str) -> None:
    got = client.post(
        "/api/v1/executions", json={"workflow": "gw-flow", "execution_id": execution_id}
    )
    assert got.status_code == 202, got.text


def finished(client: httpx.Client, execution_id: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while True:
        got = client.get(f"/api/v1/executions/{execution_id}")
        if got.status_code == 200 and got.json()["status"] == "completed":
            return got.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, got.text
        time.sleep(0.2)


def test_isolation__another_tenants_execution_is_exactly_not_there(tenants: Tenants) -> None:
    with tenants.as_("b-operator") as b, tenants.as_("a-operator") as a:
        submit(b, "ex-of-b")
        submit(a, "ex-of-a")
        finished(b, "ex-of-b")
        finished(a, "ex-of-a")
    reads = [
        "", "/checkpoints", "/timeline", "/events", "/stream", "/replay",
        "/diff?a=a1-0-add&b=a1-2-double",
    ]  # fmt: skip
    for who in ("a-admin", "a-operator", "a-viewer"):
        with tenants.as_(who) as client:
            for path in reads:
                theirs = client.get(f"/api/v1/executions/ex-of-b{path}")
                absent = client.get(f"/api/v1/executions/no-such-id{path}")
                assert theirs.status_code == absent.status_code == 404, (who, path, theirs.text)
                assert theirs.json()["detail"] == absent.json()["detail"].replace(
                    "no-such-id", "ex-of-b"
                )
                assert client.get(f"/api/v1/executions/ex-of-a{path}").status_code == 200
            listed = client.get("/api/v1/executions").json()["executions"]
            assert [e["execution_id"] for e in listed] == ["ex-of-a"]
            for action in ("pause", "resume", "cancel"):
                got = client.post(f"/api/v1/executions/ex-of-b/{action}")
                assert got.status_code == (403 if who == "a-viewer" else 404), (who, got.text)
            rollback = client.post(
                "/api/v1/executions/ex-of-b/rollback", json={"checkpoint": "a1-0-add"}
            )
            assert rollback.status_code == (403 if who == "a-viewer" else 404)
    # Ids are one namespace, so reusing B's id is refused, with nothing of B's run in the
    # answer; the same submission from B itself is idempotent (202) instead.
    with tenants.as_("a-operator") as a:
        for inputs in ({}, {"x": 5}):
            reused = a.post(
                "/api/v1/executions",
                json={"workflow": "gw-flow", "execution_id": "ex-of-b", "inputs": inputs},
            )
            assert reused.status_code == 409, reused.text
            detail = reused.json()["detail"]
            assert detail.startswith("execution id 'ex-of-b' is taken;"), detail
            assert "gw-flow" not in detail and "input" not in detail, detail
    with tenants.as_("b-operator") as b:
        submit(b, "ex-of-b")
        events = b.get("/api/v1/executions/ex-of-b/events").json()
        assert {e["event"]["tenant_id"] for e in events} == {"b"}  # stamped from the key


def test_roles_and_missing_keys(tenants: Tenants) -> None:
    with tenants.as_("") as nobody:
        got = nobody.get("/api/v1/executions")
        assert got.status_code == 401 and got.headers["www-authenticate"] == "Bearer"
        assert got.headers["content-type"] == "application/problem+json"
        assert nobody.get("/healthz").status_code == 200  # operations need no key
    with httpx.Client(base_url=tenants.base, headers={"Authorization": "Bearer om_x_y"}) as bad:
        assert bad.get("/api/v1/executions").status_code == 401
    with tenants.as_("a-viewer") as viewer:
        got = viewer.post("/api/v1/executions", json={"workflow": "gw-flow"})
        assert got.status_code == 403 and "needs operator" in got.json()["detail"]
        assert viewer.get("/api/v1/workflows").status_code == 200


def test_revoked_key__refused_within_a_second(tenants: Tenants) -> None:
    key = tenants.key("a", "viewer")
    with httpx.Client(base_url=tenants.base, headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.get("/api/v1/executions").status_code == 200
        key_id = tenants.ids["a-viewer"]
        done = cli("keys", "revoke", key_id, "--url", tenants.url, home=tenants.home)
        assert done.returncode == 0, done.stderr
        revoked_at = time.monotonic()
        while c.get("/api/v1/executions").status_code != 401:
            assert time.monotonic() - revoked_at < 1.0, "still accepted a second after"
            time.sleep(0.05)
    listed = cli("keys", "list", "--json", "--url", tenants.url, home=tenants.home)
    rows = {k["key_id"]: k for k in orjson.loads(listed.stdout)}
    assert rows[key_id]["revoked_at"] is not None and "key" not in rows[key_id]


def test_flood__429_with_retry_after_and_others_still_served(tenants: Tenants) -> None:
    with tenants.as_("a-admin") as flooder, tenants.as_("b-operator") as other:

        def hit(_: int) -> httpx.Response:
            return flooder.get("/api/v1/workflows")

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(hit, range(10 * RATE)))
        codes = Counter(a.status_code for a in answers)
        assert codes[429] > 0 and codes[200] > 0 and set(codes) <= {200, 429}, codes
        limited = next(a for a in answers if a.status_code == 429)
        assert int(limited.headers["retry-after"]) >= 1
        assert other.get("/api/v1/workflows").status_code == 200
