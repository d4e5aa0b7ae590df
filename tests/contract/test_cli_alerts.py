"""``omium alerts``: rows as JSON, filters, the rules in force, a bad file in one line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from omium.cli import main
from omium.cli.alerts import since_time
from omium.processors.alerts import AlertEvaluator, AlertStore
from omium.producers import Recorder, open_log
from omium.schemas import ConfigError
from omium.schemas.alert_rules import rules_from_data
from omium.services import alerts as service

ROW = {"alert_id", "rule", "kind", "severity", "execution_id", "attempt", "message", "raised_at"}


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/log.db"
    active = rules_from_data(
        {
            "rules": [
                {"name": "loop", "kind": "loop", "count": 2},
                {"name": "failed", "kind": "execution_failed"},
            ]
        },
        "t.yaml",
    ).rules

    async def record() -> None:
        log = open_log(url)
        for name in ("ex-a", "ex-b"):
            rec = Recorder(log, name)
            await rec.emit("execution.started", workflow="w")
            await rec.emit("tool.call", tool="t", arguments={"x": 1})
            await rec.emit("tool.call", tool="t", arguments={"x": 1})
        await rec.emit("execution.failed", error={"type": "E", "message": "no"})
        await AlertEvaluator(log, AlertStore(":memory:"), active).catch_up()
        await log.close()

    asyncio.run(record())
    return url


def test_alerts__json_rows_oldest_first(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "--url", url, "--json"]) == 0
    rows = orjson.loads(capsys.readouterr().out)
    assert [(r["rule"], r["execution_id"]) for r in rows] == [
        ("loop", "ex-a"),
        ("loop", "ex-b"),
        ("failed", "ex-b"),
    ]
    assert ROW <= set(rows[0])


def test_alerts_list__filters_by_rule_and_execution(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "list", "--url", url, "--json", "--rule", "loop"]) == 0
    assert len(orjson.loads(capsys.readouterr().out)) == 2
    assert main(["alerts", "list", "--url", url, "--json", "--execution", "ex-a"]) == 0
    assert [r["rule"] for r in orjson.loads(capsys.readouterr().out)] == ["loop"]
    assert main(["alerts", "--url", url, "--since", "2000-01-01"]) == 0
    assert "ex-b" in capsys.readouterr().out


def test_executions_show__lists_the_alerts_raised_about_it(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["executions", "show", "ex-b", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "alerts raised about it" in out
    assert "loop" in out and "failed" in out
    assert main(["executions", "show", "ex-a", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "loop" in out and "failed" not in out  # only its own
    # --json keeps to the execution's contract
    assert main(["executions", "show", "ex-a", "--url", url, "--json"]) == 0
    assert "alerts" not in orjson.loads(capsys.readouterr().out)


def test_alerts_rules__the_defaults_validated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "rules", "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["path"].endswith("infra/alerts.yaml") and len(report["rules"]) == 9


def test_alerts_rules__a_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "alerts.yaml"
    bad.write_text("rules:\n  - {name: s, kind: stuck, after: 3 parsecs}\n")
    assert main(["alerts", "rules", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"omium: error: {bad}: rules[0].after: expected a duration like 500ms, 30s, 10m or 1h, "
        "got '3 parsecs'\n"
    )
    monkeypatch.setenv("OMIUM_ALERTS", str(bad))  # what `omium worker` loads too
    assert main(["alerts", "rules"]) == 2
    assert main(["worker", "--url", f"sqlite:///{tmp_path}/w.db"]) == 2
    assert "rules[0].after" in capsys.readouterr().err


def test_since__a_duration_ago_or_a_time() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert since_time("10m", now) == now - timedelta(minutes=10)
    assert since_time("2026-11-30T10:00", now) == datetime(2026, 11, 30, 10, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--since 'soon'"):
        since_time("soon", now)


async def test_follow__yields_the_alerts_there_then_the_new_ones(url: str) -> None:
    log = open_log(url)
    rows = service.follow(log, service.AlertFilter(rule="loop"), interval=0.02)
    try:
        assert [(await anext(rows)).execution_id for _ in range(2)] == ["ex-a", "ex-b"]
        rec = Recorder(log, "ex-c")
        for _ in range(2):
            await rec.emit("tool.call", tool="t", arguments={"x": 1})
        loop = rules_from_data({"rules": [{"name": "loop", "kind": "loop", "count": 2}]}, "t")
        evaluator = AlertEvaluator(log, AlertStore(":memory:"), loop.rules)
        await evaluator.catch_up()  # a fresh store: ex-a and ex-b again, deduped by id
        assert (await asyncio.wait_for(anext(rows), 10)).execution_id == "ex-c"
    finally:
        await rows.aclose()
        await log.close()
