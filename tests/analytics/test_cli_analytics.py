"""``omium analytics`` from the command line: JSON keys, a table, bad input as one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from analytics_workload import store_url

from omium.cli.app import main

KEYS = {
    ("latency", "--by", "agent"): {"key", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms"},
    ("cost", "--by", "model"): {"key", "calls", "input_tokens", "output_tokens", "cost_usd"},
    ("failures", "--by", "step"): {"key", "executions", "failed", "failure_rate", "top_error"},
    ("slowest", "--limit", "3"): {
        "execution_id",
        "workflow",
        "status",
        "duration_ms",
        "steps",
        "cost_usd",
    },
    ("tools",): {"key", "calls", "errors", "error_rate", "p95_ms"},
}


@pytest.fixture
def env(recorded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMIUM_LOG_URL", f"sqlite:///{recorded / 'log.db'}")
    monkeypatch.setenv("OMIUM_ANALYTICS_URL", store_url(recorded))


@pytest.mark.usefixtures("env")
def test_json__rows_with_exactly_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    for args, keys in KEYS.items():
        assert main(["analytics", *args, "--json"]) == 0
        rows = orjson.loads(capsys.readouterr().out)
        assert rows, args
        assert all(set(r) == keys for r in rows), args


@pytest.mark.usefixtures("env")
def test_table__with_a_bar(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analytics", "cost", "--by", "model"]) == 0
    out = capsys.readouterr().out
    assert "gpt-4o-mini" in out and "█" in out


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    "args",
    [
        ["sql", "SELEC count() FROM events"],
        ["sql", "DROP TABLE events"],
        ["sql", "INSERT INTO events SELECT * FROM events"],
        ["latency", "--by", "colour"],
        ["cost", "--since", "2d", "--until", "3d"],
        ["failures", "--since", "yesterday-ish"],
        ["slowest", "--limit", "0"],
    ],
)
def test_bad_input__one_line_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analytics", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("omium: error: ") and err.count("\n") == 1, err
