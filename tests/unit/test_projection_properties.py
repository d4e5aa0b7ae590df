"""Hypothesis on the folds: split-invariance, redelivery, storage round-trips, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omium.projections import (
    ExecutionView,
    Until,
    fold,
    fold_timeline,
    replay,
    view_from_dict,
    view_to_dict,
    without_states,
)
from omium.schemas import Event, from_dict

T0 = datetime(2026, 11, 26, tzinfo=UTC)


class Script:
    """Builds one execution's events the way the executor records them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.attempt = 1
        self.seq: dict[int, int] = {}
        self.checkpoints: list[tuple[str, int]] = []  # (id, attempt)
        self.states: dict[str, dict[str, Any]] = {}

    def add(self, kind: str, **payload: Any) -> None:
        seq = self.seq.get(self.attempt, 0) + 1
        self.seq[self.attempt] = seq
        self.events.append(
            from_dict(
                {
                    "type": kind,
                    "execution_id": "ex-1",
                    "attempt": self.attempt,
                    "seq": seq,
                    "ts": (T0 + timedelta(milliseconds=len(self.events))).isoformat(),
                    "payload": payload,
                }
            )
        )


@st.composite
def executions(draw: st.DrawFn) -> list[Event]:
    """A plausible run: steps with outputs, usage, pauses, rollbacks, an ending."""
    s = Script()
    s.add("execution.submitted", workflow="w", inputs={"n": draw(st.integers(0, 9))})
    s.add("execution.started", workflow="w")
    index = 0
    for _ in range(draw(st.integers(0, 8))):
        move = draw(st.sampled_from(["step", "step", "llm", "tool", "pause", "rollback", "fail"]))
        if move == "step":
            name = f"s{index}"
            s.add("step.started", step=name, index=index)
            out = {draw(st.sampled_from("abc")): draw(st.integers(0, 99))}
            s.add("step.completed", step=name, index=index, output=out)
            cid = f"a{s.attempt}-{index}-{name}"
            state = dict(fold(s.events).state)
            s.add("checkpoint.created", checkpoint_id=cid, step=name, index=index, state=state)
            s.checkpoints.append((cid, s.attempt))
            s.states[cid] = state
            index += 1
        elif move == "llm":
            s.add("llm.call", model="m", input_tokens=3, output_tokens=5, cost_usd=0.25)
        elif move == "tool":
            s.add("tool.call", tool="grep")
        elif move == "pause":
            s.add("execution.paused")
            s.add("execution.resumed")
        elif move == "fail":
            s.add(
                "step.retried", step="x", index=index, retry=1, error={"type": "E", "message": "m"}
            )
        elif move == "rollback" and s.checkpoints:
            cid, from_attempt = draw(st.sampled_from(s.checkpoints))
            s.attempt = max(s.seq) + 1
            s.add(
                "execution.rolled_back",
                from_attempt=from_attempt,
                checkpoint_id=cid,
                branch_seq=1,
                overrides={"edited": True},
                state={**s.states[cid], "edited": True},
            )
            index = int(cid.split("-")[1]) + 1
    s.add("execution.completed", output=dict(fold(s.events).state))
    return s.events


def positions(events: list[Event]) -> list[tuple[str, int, int]]:
    return [("omium.events", 3, 100 + i) for i in range(len(events))]


@settings(max_examples=150, deadline=None)
@given(events=executions(), data=st.data())
def test_fold__of_a_then_b_equals_b_folded_onto_a(events: list[Event], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(events)))
    where = positions(events)
    whole = fold(events, positions=where)
    first = fold(events[:cut], ExecutionView(execution_id="ex-1"), where[:cut])
    assert fold(events[cut:], first, where[cut:]) == whole


@settings(max_examples=150, deadline=None)
@given(events=executions(), data=st.data())
def test_fold__continues_from_a_stored_view_without_snapshots(
    events: list[Event], data: st.DataObject
) -> None:
    """What a projector does: fold a batch, store the view (snapshots left out), go on."""
    cut = data.draw(st.integers(0, len(events)))
    where = positions(events)
    stored = without_states(fold(events[:cut], ExecutionView(execution_id="ex-1"), where[:cut]))
    continued = fold(events[cut:], stored, where[cut:])
    assert without_states(continued) == without_states(fold(events, positions=where))


@settings(max_examples=150, deadline=None)
@given(events=executions(), data=st.data())
def test_fold__ignores_redelivered_events(events: list[Event], data: st.DataObject) -> None:
    where = positions(events)
    items = list(zip(events, where, strict=True))
    redelivered = list(items)
    for _ in range(data.draw(st.integers(1, 6))):
        original = items[data.draw(st.integers(0, len(items) - 1))]
        # a redelivery comes after its original, with the same position
        first = redelivered.index(original)
        redelivered.insert(data.draw(st.integers(first + 1, len(redelivered))), original)
    with_dupes = fold([e for e, _ in redelivered], positions=[p for _, p in redelivered])
    assert with_dupes == fold(events, positions=where)
    timeline = fold_timeline([e for e, _ in redelivered], positions=[p for _, p in redelivered])
    assert timeline == fold_timeline(events, positions=where)


@settings(max_examples=100, deadline=None)
@given(events=executions())
def test_stored_view__round_trips(events: list[Event]) -> None:
    view = fold(events, positions=positions(events))
    assert view_from_dict(view_to_dict(view, states=True)) == view
    stored = view_from_dict(view_to_dict(view))
    assert all(c.state is None for c in stored.checkpoints)
    assert stored.status == view.status and stored.state == view.state


@settings(max_examples=100, deadline=None)
@given(events=executions(), data=st.data())
def test_replay__to_an_offset_equals_folding_the_prefix(
    events: list[Event], data: st.DataObject
) -> None:
    where = positions(events)
    stop = data.draw(st.integers(0, len(events) - 1))
    result = replay(zip(events, where, strict=True), Until(offset=where[stop][2]), verify=True)
    assert result.view == fold(events[: stop + 1], positions=where[: stop + 1])
    assert result.position == where[stop] and result.seq == events[stop].seq
    assert result.mismatches == ()  # the script's snapshots are the derived state
    assert len(result.timeline.entries) == stop + 1


@settings(max_examples=100, deadline=None)
@given(events=executions())
def test_fold__sums_usage_over_every_attempt(events: list[Event]) -> None:
    usage = fold(events).usage
    calls = sum(e.type == "llm.call" for e in events)
    assert (usage.llm_calls, usage.input_tokens, usage.output_tokens) == (
        calls,
        3 * calls,
        5 * calls,
    )
    assert usage.tool_calls == sum(e.type == "tool.call" for e in events)
