"""``cost`` and ``failures`` from the daily rollups (0009) against exact answers over the raw
tables: every count and token sum equal, ``cost_usd`` equal up to float rounding.

The store is fed in small batches, so executions change state across batches (the
``execution_changes`` rows retract and re-add them), and windows cut days in two (the
partial days are read from the base tables). The exact answers are folded here in Python
from the raw rows (``llm_calls``, ``steps``, ``executions FINAL``), not by the module's SQL.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from analytics_workload import store_url

from omium.processors.analytics import AnalyticsSink, open_place
from omium.producers import open_log
from omium.services.analytics import Analytics, Scope, open_analytics


def _at(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


WINDOWS = [
    Scope("default"),
    Scope("default", _at(20, 0, 20), _at(22, 2, 40)),
    Scope("default", _at(21, 1, 5), _at(21, 20, 55)),
    Scope("default", workflow="billing"),
]
IDS = ["all", "cut-days", "in-one-day", "billing"]


@pytest.fixture(scope="module")
def raw(recorded: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The workload written in batches of 97 records (executions span batches); the raw
    rows the exact answers are folded from, read once."""

    async def feed() -> dict[str, list[tuple[Any, ...]]]:
        log = open_log(f"sqlite:///{recorded / 'log.db'}")
        place = open_place(url=store_url(recorded))
        await AnalyticsSink(log, place, rows=97).sync()
        async with place.session() as store:
            out = {name: store.query(text)[1] for name, text in RAW.items()}
        place.close()
        await log.close()
        return out

    return asyncio.run(feed())


RAW = {
    "llm_calls": "SELECT model, workflow, agent, ts, input_tokens, output_tokens, cost_usd "
    "FROM llm_calls WHERE tenant_id = 'default'",
    "executions": "SELECT workflow, status, error_type, "
    "coalesce(started_at, submitted_at, ended_at) FROM executions FINAL "
    "WHERE tenant_id = 'default'",
    "steps": "SELECT execution_id, step, workflow, status, error_type, ended_at FROM steps "
    "WHERE tenant_id = 'default' ORDER BY partition, offset",
    "retracted": "SELECT countIf(change < 0) FROM execution_changes",
}


@pytest.fixture
async def analytics(recorded: Path, raw: dict[str, Any]) -> AsyncIterator[Analytics]:
    answers = open_analytics(open_log(f"sqlite:///{recorded / 'log.db'}"), url=store_url(recorded))
    yield answers
    await answers.close()


async def _raw(analytics: Analytics, text: str) -> list[tuple[Any, ...]]:
    async with analytics.place.session() as store:
        return store.query(text)[1]


def _inside(scope: Scope, t: datetime | None, workflow: str) -> bool:
    p = scope.params()
    return t is not None and p["since"] <= t < p["until"] and scope.workflow in (None, workflow)


def _top(errors: Counter[str]) -> str:
    return max(errors.items(), key=lambda kv: (kv[1], kv[0]))[0] if errors else ""


def exact_cost(raw: dict[str, Any], by: str, scope: Scope) -> dict[str, tuple]:
    out: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, 0.0])
    for model, workflow, agent, ts, i, o, usd in raw["llm_calls"]:
        if _inside(scope, ts, workflow):
            key = {"model": model, "workflow": workflow, "agent": agent}.get(by)
            cell = out[key or ts.date().isoformat()]
            cell[0] += 1
            cell[1] += i
            cell[2] += o
            cell[3] += usd
    return {k: tuple(v) for k, v in out.items()}


def exact_failures_by_workflow(raw: dict[str, Any], scope: Scope) -> dict[str, tuple]:
    runs: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    for workflow, status, error, at in raw["executions"]:
        if _inside(scope, at, workflow):
            runs[workflow] += 1
            if status in ("failed", "timed_out"):
                failed[workflow] += 1
                errors[workflow][error] += 1
    return {k: (n, failed[k], _top(errors[k])) for k, n in runs.items()}


def exact_failures_by_step(raw: dict[str, Any], scope: Scope) -> dict[str, tuple]:
    """Per step: executions whose first run of it (in log order) is in the window, those
    whose first failure of it is, and the window's most common error among failed rows."""
    ran: set[tuple[str, str]] = set()
    fell: set[tuple[str, str]] = set()
    runs: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    keys: set[str] = set()
    for execution, step, workflow, status, error, ended in raw["steps"]:
        first_run = (execution, step) not in ran
        first_failure = status == "failed" and (execution, step) not in fell
        ran.add((execution, step))
        if status == "failed":
            fell.add((execution, step))
        if not _inside(scope, ended, workflow):
            continue
        keys.add(step)
        runs[step] += first_run
        failed[step] += first_failure
        if status == "failed":
            errors[step][error] += 1
    return {k: (runs[k], failed[k], _top(errors[k])) for k in keys}


@pytest.mark.parametrize("by", ["model", "workflow", "day", "agent"])
@pytest.mark.parametrize("scope", WINDOWS, ids=IDS)
async def test_cost_rollup__exact(
    analytics: Analytics, raw: dict[str, Any], by: str, scope: Scope
) -> None:
    got = {r.key: r for r in await analytics.cost(by, scope)}
    want = exact_cost(raw, by, scope)
    assert got.keys() == want.keys()
    for key, (calls, i, o, usd) in want.items():
        row = got[key]
        assert (row.calls, row.input_tokens, row.output_tokens) == (calls, i, o), key
        assert row.cost_usd == pytest.approx(usd, rel=1e-12, abs=1e-12), key


@pytest.mark.parametrize("by", ["workflow", "step"])
@pytest.mark.parametrize("scope", WINDOWS, ids=IDS)
async def test_failures_rollup__exact(
    analytics: Analytics, raw: dict[str, Any], by: str, scope: Scope
) -> None:
    got = {r.key: r for r in await analytics.failures(by, scope)}
    exact = exact_failures_by_workflow if by == "workflow" else exact_failures_by_step
    want = exact(raw, scope)
    assert got.keys() == want.keys()
    for key, (runs, failed, top) in want.items():
        row = got[key]
        assert (row.executions, row.failed, row.top_error) == (runs, failed, top), key
        assert row.failure_rate == (failed / runs if runs else 0)


def test_rollups__windows_hold_rows(raw: dict[str, Any]) -> None:
    """The windows above hold calls and failures (else they would test nothing), and the
    executions did change state across batches."""
    for scope in WINDOWS:
        assert exact_cost(raw, "model", scope), scope
        assert any(v[1] for v in exact_failures_by_step(raw, scope).values()), scope
        assert any(v[1] for v in exact_failures_by_workflow(raw, scope).values()), scope
    assert raw["retracted"][0][0] > 0


async def test_migration_0009__upgrades_a_store_in_place(analytics: Analytics) -> None:
    """A store from before the rollups (simulated: their tables dropped, 0009 not listed)
    gets them filled from its own tables when it migrates: same answers, nothing replayed."""
    scope = WINDOWS[1]
    before = [
        await analytics.cost("model", scope),
        await analytics.failures("workflow", scope),
        await analytics.failures("step", scope),
    ]
    batches = await _raw(analytics, "SELECT count() FROM sink_batches")
    async with analytics.place.session() as store:
        for view in ("llm_calls_daily_mv", "steps_failures_daily_mv", "executions_daily_mv"):
            store.command(f"DROP VIEW {view} SYNC")
        for table in ("llm_calls_daily", "steps_failures_daily", "execution_changes"):
            store.command(f"DROP TABLE {table} SYNC")
        store.command("DROP TABLE executions_daily SYNC")
        store.command("DELETE FROM omium_migrations WHERE version = 9")
    after = [
        await analytics.cost("model", scope),
        await analytics.failures("workflow", scope),
        await analytics.failures("step", scope),
    ]
    assert [[r.model_dump(exclude={"cost_usd"}) for r in rows] for rows in after] == [
        [r.model_dump(exclude={"cost_usd"}) for r in rows] for rows in before
    ]
    for old, new in zip(before[0], after[0], strict=True):
        assert new.cost_usd == pytest.approx(old.cost_usd, rel=1e-12)
    assert await _raw(analytics, "SELECT count() FROM sink_batches") == batches
    assert await _raw(analytics, "SELECT max(version) FROM omium_migrations") == [(9,)]
