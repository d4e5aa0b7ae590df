"""Alert sinks against a real local HTTP server: once each, a hanging one delays no other."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from omium.processors.alerts import AlertEvaluator, AlertStore, sinks_for
from omium.producers import EventLog, Recorder, open_log
from omium.schemas import AlertDeliveryFailed
from omium.schemas.alert_rules import rules_from_data
from omium.schemas.topics import ALERTS


class Receiver(ThreadingHTTPServer):
    """Routes: /ok 200, /fail 500, /hang waits 3 s, /flaky 500 to a key's first request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, str, dict[str, Any], float]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def got(self, path: str) -> list[tuple[str, str, dict[str, Any], float]]:
        with self.lock:
            return [r for r in self.requests if r[0] == path]


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers["Idempotency-Key"]
        with self.server.lock:
            seen = any(r[1] == key for r in self.server.requests if r[0] == self.path)
            self.server.requests.append((self.path, key, body, time.monotonic()))
        if self.path == "/hang":
            time.sleep(3)
        status = {"/ok": 200, "/fail": 500, "/hang": 200, "/flaky": 200 if seen else 500}
        self.send_response(status[self.path])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "webhook", "url": url, "backoff": "50ms", **extra}


async def failed_run(log: EventLog, workflow: str) -> None:
    rec = Recorder(log, f"ex-{workflow}")
    await rec.emit("execution.started", workflow=workflow)
    await rec.emit("execution.failed", error={"type": "E", "message": "no"})


async def settled(evaluator: AlertEvaluator, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while evaluator.dispatcher.in_flight:
        assert time.monotonic() < deadline, "deliveries did not finish"
        await asyncio.sleep(0.02)


async def test_webhooks__once_each_failures_recorded_a_hang_delays_no_other(
    receiver: Receiver, tmp_path: Path
) -> None:
    url = receiver.url
    spec = {
        "rules": [
            {
                "name": name,
                "kind": "execution_failed",
                "workflow": name,
                "sinks": [webhook(f"{url}/{name}", **extra)],
            }
            for name, extra in (
                ("hang", {"timeout": "1s", "retries": 0}),
                ("ok", {}),
                ("fail", {"retries": 2}),
                ("flaky", {"retries": 2}),
            )
        ]
    }
    spec["rules"][1]["sinks"] += [{"type": "file", "path": str(tmp_path / "alerts.jsonl")}]
    spec["rules"][1]["sinks"] += [{"type": "stderr"}]
    active = rules_from_data(spec, "hooks.yaml").rules
    stderr = io.StringIO()
    log = open_log("sqlite:///:memory:")
    await log.create_topics()
    store = AlertStore(str(tmp_path / "alerts.db"))
    for name in ("hang", "ok", "fail", "flaky"):
        await failed_run(log, name)
    evaluator = AlertEvaluator(log, store, active, sinks=sinks_for(active, stderr))
    started = time.monotonic()
    await evaluator.catch_up()
    while not receiver.got("/ok"):
        await asyncio.sleep(0.01)
    ok_after = receiver.got("/ok")[0][3] - started
    assert ok_after < 0.5, f"the ok webhook waited {ok_after:.2f} s behind the hanging one"
    await settled(evaluator)

    assert len(receiver.got("/ok")) == 1
    body = receiver.got("/ok")[0][2]
    assert body["rule"] == "ok" and body["action"] == "raised" and body["execution_id"] == "ex-ok"
    assert len(receiver.got("/fail")) == 3  # the first try and two retries
    flaky = receiver.got("/flaky")
    assert len(flaky) == 2 and len({key for _, key, _, _ in flaky}) == 1  # same alert, retried
    assert [
        json.loads(line)["rule"] for line in (tmp_path / "alerts.jsonl").read_text().splitlines()
    ] == ["ok"]
    assert "omium alert [warning] ok: ex-ok (ok) failed" in stderr.getvalue()
    failures = {
        e.payload.rule: e.payload
        for p in range(await log.partitions(ALERTS.name))
        for e in (r.event() for r in await log.read(ALERTS.name, p))
        if isinstance(e, AlertDeliveryFailed)
    }
    assert sorted(failures) == ["fail", "hang"]
    assert failures["fail"].attempts == 3 and "HTTP 500" in failures["fail"].error

    again = AlertEvaluator(log, store, active, sinks=sinks_for(active, stderr))
    await again.catch_up()  # delivered is delivered: nothing is sent again after a restart
    await settled(again)
    assert len(receiver.got("/ok")) == 1
    await evaluator.dispatcher.drain(1)
    await log.close()
