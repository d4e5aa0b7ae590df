"""The pure row builder: a batch split anywhere gives the same rows (what a crash does)."""

from __future__ import annotations

from analytics_workload import price, workload
from hypothesis import given
from hypothesis import strategies as st

from omium.projections.analytics import analytics_rows
from omium.schemas import Event

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
