"""The execution fold: a step its attempt left unfinished gets a final status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omium.projections import fold
from omium.schemas import Event, from_dict

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def events(*rows: tuple[str, int, dict[str, Any]]) -> list[Event]:
    """``(type, attempt, payload)`` rows, numbered per attempt."""
    seq: dict[int, int] = {}
    out = []
    for i, (kind, attempt, payload) in enumerate(rows):
        seq[attempt] = seq.get(attempt, 0) + 1
        raw = {"type": kind, "execution_id": "ex", "attempt": attempt, "seq": seq[attempt]}
        out.append(
            from_dict({**raw, "ts": (T0 + timedelta(seconds=i)).isoformat(), "payload": payload})
        )
    return out


START = [("execution.submitted", 1, {"workflow": "w"}), ("execution.started", 1, {"workflow": "w"})]
RUNNING = ("step.started", 1, {"step": "s0", "index": 0})


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        (("execution.cancelled", 1, {"reason": "asked"}), "cancelled"),
        (("execution.timed_out", 1, {"timeout_s": 2}), "timed_out"),
        (
            ("execution.failed", 1, {"error": {"type": "EventTooLarge", "message": "m"}}),
            "abandoned",
        ),
        (("execution.completed", 1, {}), "abandoned"),
    ],
)
def test_apply__an_ending_closes_the_running_step(
    ending: tuple[str, int, dict[str, Any]], status: str
) -> None:
    view = fold(events(*START, RUNNING, ending))
    [step] = view.steps
    assert step.status == status and step.ended_at == T0 + timedelta(seconds=3)


def test_apply__a_step_of_a_running_execution_stays_running() -> None:
    view = fold(events(*START, RUNNING, ("execution.paused", 1, {})))
    assert [s.status for s in view.steps] == ["running"]


def test_apply__a_rollback_abandons_the_attempt_it_supersedes() -> None:
    rows = [
        *START,
        ("step.started", 1, {"step": "s0", "index": 0}),
        ("step.completed", 1, {"step": "s0", "index": 0, "output": {"a": 1}}),
        ("checkpoint.created", 1, {"checkpoint_id": "c0", "step": "s0", "index": 0}),
        ("step.started", 1, {"step": "s1", "index": 1}),
        ("execution.rolled_back", 2, {"from_attempt": 1, "checkpoint_id": "c0", "branch_seq": 3}),
        ("step.started", 2, {"step": "s1", "index": 1}),
    ]
    view = fold(events(*rows))
    assert [(s.attempt, s.status) for s in view.steps] == [
        (1, "completed"),
        (1, "abandoned"),
        (2, "running"),
    ]


def test_apply__a_late_step_of_an_attempt_that_is_over_is_closed_at_once() -> None:
    """A write that lands after its attempt ended (a cancelled crew's thread)."""
    cancelled = ("execution.cancelled", 1, {"reason": "asked"})
    view = fold(events(*START, cancelled, RUNNING))
    assert [s.status for s in view.steps] == ["cancelled"]


def test_apply__redelivering_the_ending_changes_nothing() -> None:
    items = events(*START, RUNNING, ("execution.timed_out", 1, {"timeout_s": 2}))
    assert fold([*items, items[-1], items[-2]]) == fold(items)
