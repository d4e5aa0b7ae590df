"""The pure row builder: a batch split anywhere gives the same rows (what a crash does)."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics_workload import price, workload
from hypothesis import given
from hypothesis import strategies as st

from omium.projections.analytics import analytics_rows
from omium.schemas import Event, StepCompleted, StepFailed

EVENTS = workload(12, seed=3)


def _batch(events: list[Event], start: int = 0) -> list:
    return [(e, ("omium.events", 0, start + i)) for i, e in enumerate(events)]


@given(st.integers(min_value=0, max_value=len(EVENTS)))
def test_rows__split_batches_fold_to_the_same_rows(cut: int) -> None:
    whole = analytics_rows(_batch(EVENTS), {}, price)
    first = analytics_rows(_batch(EVENTS[:cut]), {}, price)
    second = analytics_rows(_batch(EVENTS[cut:], cut), first.executions, price)
    assert {**first.executions, **second.executions} == whole.executions
    for table in ("events", "steps", "llm_calls", "tool_calls"):
        a, b, w = (getattr(r, table) for r in (first, second, whole))
        assert {c: a[c] + b[c] for c in w} == w, table


def test_rows__one_row_per_event_of_each_kind() -> None:
    rows = analytics_rows(_batch(EVENTS), {}, price)
    kinds = [e.type for e in EVENTS]
    assert len(rows.events["event_id"]) == len(EVENTS)
    assert len(rows.steps["step"]) == kinds.count("step.completed") + kinds.count("step.failed")
    assert len(rows.llm_calls["model"]) == kinds.count("llm.call")
    assert len(rows.tool_calls["tool"]) == kinds.count("tool.call")
    assert set(rows.executions) == {e.execution_id for e in EVENTS}


def _step(cls: type[Event], step: str, seq: int, attempt: int = 1) -> Event:
    payload: dict = {"step": step, "index": 0, "duration_ms": 5.0}
    if cls is StepFailed:
        payload["error"] = {"type": "ValueError", "message": "x"}
    return cls.model_validate(
        {
            "execution_id": "ex-rerun",
            "tenant_id": "default",
            "seq": seq,
            "attempt": attempt,
            "ts": datetime(2026, 11, 30, 12, 0, seq, tzinfo=UTC),
            "payload": payload,
        }
    )


def test_rows__first_run_and_first_failure_once_per_execution_and_step() -> None:
    events = [
        _step(StepCompleted, "a", 1),
        _step(StepFailed, "b", 2),
        _step(StepFailed, "a", 3, attempt=2),
        _step(StepFailed, "a", 4, attempt=3),
        _step(StepCompleted, "b", 5, attempt=3),
        _step(StepCompleted, "a", 6, attempt=3),
    ]
    want_run, want_failure = [1, 1, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0]
    whole = analytics_rows(_batch(events), {}, price)
    assert whole.steps["first_run"] == want_run
    assert whole.steps["first_failure"] == want_failure
    for cut in range(len(events) + 1):  # the execution's row carries what it ran across batches
        first = analytics_rows(_batch(events[:cut]), {}, price)
        second = analytics_rows(_batch(events[cut:], cut), first.executions, price)
        assert first.steps["first_run"] + second.steps["first_run"] == want_run
        assert first.steps["first_failure"] + second.steps["first_failure"] == want_failure
