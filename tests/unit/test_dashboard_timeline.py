"""The dashboard's timeline layout: a pure function of an execution's response model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omium.gateway.dashboard.timeline import LEFT, WIDTH, Axis, layout, svg
from omium.services.models import (
    BranchOut,
    CallOut,
    CheckpointRef,
    ExecutionOut,
    StepOut,
    UsageOut,
)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def step(name: str, index: int, attempt: int, start_ms: float, ms: float, **kw: object) -> StepOut:
    begin = T0 + timedelta(milliseconds=start_ms)
    fields = {"status": "completed", "seq": index, "error": None, "retry": 0, **kw}
    return StepOut(
        name=name, index=index, attempt=attempt, started_at=begin,
        ended_at=begin + timedelta(milliseconds=ms), duration_ms=ms, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def execution(steps: list[StepOut], branches: list[BranchOut] = ()) -> ExecutionOut:  # type: ignore[assignment]
    refs = [
        CheckpointRef(
            checkpoint_id=f"a{s.attempt}-{s.index}-{s.name}",
            step=s.name,
            index=s.index,
            attempt=s.attempt,
            seq=s.seq,
            position=None,
        )  # fmt: skip
        for s in steps
    ]
    usage = UsageOut(llm_calls=0, input_tokens=0, output_tokens=0, cost_usd=0, tool_calls=0)
    return ExecutionOut(
        execution_id="ex", workflow="w", status="completed", attempt=max(s.attempt for s in steps),
        inputs={}, output=None, error=None, waiting=None, steps=steps, checkpoints=refs,
        branches=list(branches), usage=usage,
    )  # fmt: skip


def test_axis__a_long_idle_stretch_is_drawn_short_and_busy_time_to_scale() -> None:
    axis = Axis([(0, 100), (100, 200), (10_000, 10_100)])
    assert axis.longest == 50  # a tenth of 300 ms busy is 30: the 50 ms floor
    assert axis.drawn(0) == 0 and axis.drawn(150) == 150
    assert axis.drawn(10_000) == 250 and axis.drawn(10_100) == 350 == axis.drawn_span
    assert axis.real_span == 10_100 and axis.real(350) == 10_100
    assert [idle for _, idle in axis.gaps] == [9_800]


def test_layout__a_lane_per_attempt_a_bar_per_step_and_the_branch_point() -> None:
    steps = [
        step("add", 0, 1, 0, 10),
        step("wait", 1, 1, 10, 500),
        step("double", 2, 1, 510, 10, status="failed", error="boom", retry=1),
        step("wait", 1, 2, 60_000, 500),
        step("double", 2, 2, 60_500, 10),
    ]
    branch = BranchOut(attempt=2, from_attempt=1, checkpoint_id="a1-0-add", overrides={"t": 1})
    t = layout(execution(steps, [branch]), T0)
    assert [lane.attempt for lane in t.lanes] == [1, 2]
    assert len(t.bars) == 5 and {b.y for b in t.bars[:3]} != {b.y for b in t.bars[3:]}
    assert (
        min(b.x for b in t.bars) == LEFT
        and max(b.x + b.width for b in t.bars) <= LEFT + WIDTH + 0.01
    )
    wait1, wait2 = t.bars[1], t.bars[3]
    assert abs(wait1.width - wait2.width) < 0.01  # equal durations, equal lengths
    assert t.bars[2].retried and "failed" in t.bars[2].title and "boom" in t.bars[2].title
    [fork] = t.branches
    assert abs(fork.x1 - (t.bars[0].x + t.bars[0].width)) < 0.01  # from the end of `add`
    assert abs(fork.x2 - wait2.x) < 0.01 and fork.y2 > fork.y1
    assert len(t.gaps) == 1 and "idle" in t.gaps[0].title
    drawn = svg(t)
    assert drawn.count('<g class="bar') == 5 and 'fill="url(#hatch)"' in drawn
    assert "t=1" in drawn  # the edit, in the branch's title


def test_svg__escapes_step_names() -> None:
    t = layout(execution([step("<script>", 0, 1, 0, 10_000)]), T0)
    assert "<script>" not in svg(t) and "&lt;script&gt;" in svg(t)


def call(kind: str, attempt: int, at_ms: float, **kw: object) -> CallOut:
    ts = T0 + timedelta(milliseconds=at_ms)
    return CallOut(kind=kind, attempt=attempt, seq=0, ts=ts, **kw)  # type: ignore[arg-type]


def test_layout__calls_and_handoffs_are_marks_on_their_steps_bar() -> None:
    steps = [
        step("triage", 0, 1, 0, 100),
        step("billing_agent", 1, 1, 110, 300),
        step("triage", 0, 2, 5_000, 100),
    ]
    calls = [
        call("llm", 1, 90, name="gpt-x", step="triage", duration_ms=40.0, input_tokens=12,
             output_tokens=3, cost_usd=0.25),
        call("handoff", 1, 105, name="triage → billing_agent", from_agent="triage",
             to_agent="billing_agent", reason="triggered by branch:to:billing_agent"),
        call("tool", 1, 300, name="lookup_invoices", step="billing_agent", duration_ms=7.0,
             error="KeyError: acme"),
        call("llm", 2, 5_050, name="gpt-x", step="triage", duration_ms=10.0),
        call("tool", 3, 10, name="lost", step="triage"),  # an attempt without steps: no mark
    ]  # fmt: skip
    t = layout(execution(steps), T0, calls)
    assert [m.kind for m in t.marks] == ["llm", "handoff", "tool", "llm"]
    triage, billing, triage2 = t.bars
    for mark, bar in zip(t.marks, [triage, billing, billing, triage2], strict=True):
        assert bar.x <= mark.x <= bar.x + bar.width and mark.y == bar.y, mark
    assert t.marks[1].x == billing.x  # a handoff: where the agent's step starts
    llm, handoff, tool, _ = (m.title for m in t.marks)
    assert "gpt-x" in llm and "12 in · 3 out tokens" in llm and "$0.2500" in llm
    assert "40 ms" in llm and "triage (attempt 1)" in llm
    assert handoff.startswith("handoff triage → billing_agent") and "branch:to:" in handoff
    assert "lookup_invoices" in tool and "KeyError: acme" in tool
    drawn = svg(t)
    assert drawn.count('class="mark m-llm"') == 2 and drawn.count('class="mark m-tool"') == 1
    assert drawn.count('class="mark m-handoff"') == 1 and "triage → billing_agent" in drawn


def test_layout__a_call_without_its_step_name_sits_on_the_step_running_then() -> None:
    steps = [step("a", 0, 1, 0, 100), step("b", 1, 1, 100, 100), step("c", 2, 1, 200, 100)]
    t = layout(execution(steps), T0, [call("tool", 1, 150, name="t")])
    [mark] = t.marks
    b = t.bars[1]
    assert b.x <= mark.x <= b.x + b.width
