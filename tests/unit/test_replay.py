"""Replay points, verification, diffs and the timeline's words, on a hand-written run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omium.projections import Until, replay, state_diff
from omium.schemas import Event, NoSuchPoint, from_dict

T0 = datetime(2026, 11, 26, 10, tzinfo=UTC)


def event(kind: str, seq: int, attempt: int = 1, **payload: Any) -> Event:
    return from_dict(
        {
            "type": kind,
            "execution_id": "ex-9",
            "attempt": attempt,
            "seq": seq,
            "ts": (T0 + timedelta(seconds=seq + 100 * (attempt - 1))).isoformat(),
            "payload": payload,
        }
    )


RUN = [
    event("execution.submitted", 1, workflow="w", inputs={"x": 1}),
    event("execution.started", 2, workflow="w"),
    event("step.started", 3, step="a", index=0),
    event("step.completed", 4, step="a", index=0, output={"y": 2}),
    event(
        "checkpoint.created", 5, checkpoint_id="a1-0-a", step="a", index=0, state={"x": 1, "y": 2}
    ),
    event("step.started", 6, step="b", index=1),
    event("step.completed", 7, step="b", index=1, output={"y": 3}),
    # a snapshot that does not add up: --verify must say so
    event(
        "checkpoint.created", 8, checkpoint_id="a1-1-b", step="b", index=1, state={"x": 1, "y": 4}
    ),
    event("execution.completed", 9, output={"x": 1, "y": 3}),
    event(
        "execution.rolled_back",
        1,
        attempt=2,
        from_attempt=1,
        checkpoint_id="a1-0-a",
        branch_seq=5,
        overrides={"x": 10},
    ),
    event("execution.started", 2, attempt=2, workflow="w"),
]


def items() -> list[tuple[Event, tuple[str, int, int]]]:
    return [(e, ("omium.events", 0, 40 + i)) for i, e in enumerate(RUN)]


def test_replay__to_a_checkpoint_stops_on_its_event() -> None:
    result = replay(items(), Until(checkpoint="a1-0-a"))
    assert (result.attempt, result.seq, result.position) == (1, 5, ("omium.events", 0, 44))
    assert result.view.state == {"x": 1, "y": 2} and result.view.status == "running"


def test_replay__seq_counts_in_the_chosen_attempt() -> None:
    assert replay(items(), Until(seq=2, attempt=1)).position == ("omium.events", 0, 41)
    newest = replay(items(), Until(seq=1))  # default: the newest attempt
    assert newest.attempt == 2 and newest.view.state == {"x": 10, "y": 2}
    assert replay(items(), Until(attempt=1)).view.status == "completed"


def test_replay__to_a_time_takes_the_last_event_at_or_before_it() -> None:
    result = replay(items(), Until(time=T0 + timedelta(seconds=6, milliseconds=500)))
    assert result.seq == 6 and result.attempt == 1


def test_replay__verify_reports_a_snapshot_that_differs() -> None:
    result = replay(items(), Until(), verify=True)
    assert [m.checkpoint_id for m in result.mismatches] == ["a1-1-b"]
    assert result.mismatches[0].diff.changed == {"y": (3, 4)}


def test_replay__timeline_names_the_branch_point() -> None:
    summaries = [e.summary for e in replay(items(), Until()).timeline.entries]
    assert "branch: attempt 2 continues from a1-0-a with x set" in summaries
    assert summaries[3] == "step a completed in 0 ms"


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (Until(seq=99, attempt=1), "attempt 1 has no seq 99; its seqs run 1..9"),
        (Until(checkpoint="nope"), "no checkpoint 'nope'; checkpoints: a1-0-a, a1-1-b"),
        (Until(offset=3), "offset 3 is before the execution's first event; its events sit at"),
        (Until(offset=99999), "offset 99999 is after the execution's last event; its events sit"),
        (Until(attempt=7), "no attempt 7; attempts: 1, 2"),
        (Until(seq=1, offset=40), "choose one replay point, not offset and seq"),
        (Until(time=T0), "is before the execution's first event"),
    ],
)
def test_replay__names_a_point_that_does_not_exist(until: Until, message: str) -> None:
    with pytest.raises(NoSuchPoint, match=message.replace("(", r"\(").replace(".", r"\.")):
        replay(items(), until)


def test_state_diff__added_removed_changed() -> None:
    diff = state_diff({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 4})
    assert (diff.added, diff.removed, diff.changed) == ({"d": 4}, {"c": 3}, {"b": (2, 5)})
    assert not state_diff({"a": 1}, {"a": 1})
