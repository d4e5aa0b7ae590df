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
    """Builds one execution's events the way the executor records them, and what they mean.

    Besides the events it keeps an oracle of its own, written straight from the rules (not
    with the fold under test): the state, the output, the checkpoints a view must list
    (tombstones applied), the usage, and the newest seq of each attempt.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.attempt = 1
        self.seq: dict[int, int] = {}
        self.states: dict[str, dict[str, Any]] = {}  # step checkpoint id -> its snapshot
        # the oracle
        self.state: dict[str, Any] = {}
        self.output: dict[str, Any] | None = None
        #: (checkpoint id, attempt, ns, run_id) of every checkpoint not forgotten
        self.live: list[tuple[str, int, str, str | None]] = []
        self.llm_calls = self.tool_calls = 0
        #: (attempt, step index) -> the status its row must show, in the order rows appear
        self.steps: dict[tuple[int, int], str] = {}
        self.status = "running"

    def __repr__(self) -> str:
        return "Script(" + ", ".join(f"{e.type}@{e.attempt}.{e.seq}" for e in self.events) + ")"

    def add(self, kind: str, *, numbered: bool = True, **payload: Any) -> None:
        seq = 0
        if numbered:  # an unnumbered fact (seq 0) does not advance its attempt
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

    def checkpoint(self, cid: str, *, ns: str = "", run_id: str | None = None, **more: Any) -> None:
        metadata = {"run_id": run_id} if run_id is not None else None
        self.add("checkpoint.created", checkpoint_id=cid, ns=ns, metadata=metadata, **more)
        self.live.append((cid, self.attempt, ns, run_id))

    def end(self, status: str) -> None:
        """The current attempt ends (or a rollback supersedes it) with ``status``.

        Every row still running or retrying gets its final status: the step's own for a
        cancel or a timeout, ``abandoned`` for a failure, a completion or a rollback.
        """
        final = status if status in ("cancelled", "timed_out") else "abandoned"
        for key, row in self.steps.items():
            if row in ("running", "retrying"):
                self.steps[key] = final


@st.composite
def executions(draw: st.DrawFn) -> list[Event]:
    return draw(scripts()).events


@st.composite
def scripts(draw: st.DrawFn) -> Script:
    """A plausible run: steps with outputs, usage, pauses, rollbacks, a framework's
    checkpoints and its tombstones, facts without a seq, steps a crash interrupted,
    attempts that end early (failed, cancelled, timed out), an ending."""
    s = Script()
    inputs = {"n": draw(st.integers(0, 9))}
    s.add("execution.submitted", workflow="w", inputs=inputs)
    s.state = dict(inputs)
    s.add("execution.started", workflow="w")
    index = 0
    moves = ["step", "step", "llm", "tool", "pause", "rollback", "fail", "framework", "forget"]
    moves += ["cut", "halt"]
    for _ in range(draw(st.integers(0, 10))):
        move = draw(st.sampled_from(moves))
        if move == "cut":  # a step a crash interrupted: it starts again on recovery
            s.add("step.started", step=f"s{index}", index=index)
            s.steps[(s.attempt, index)] = "running"
        elif move == "halt":  # the attempt ends early; only a rollback goes on from there
            halt(draw, s)
            restarted = roll_back(draw, s)
            if restarted is None:
                return s
            index = restarted
        elif move == "step":
            name = f"s{index}"
            s.add("step.started", step=name, index=index)
            s.steps[(s.attempt, index)] = "completed"
            out = {draw(st.sampled_from("abc")): draw(st.integers(0, 99))}
            s.add("step.completed", step=name, index=index, output=out)
            s.state.update(out)
            cid = f"a{s.attempt}-{index}-{name}"
            s.checkpoint(cid, step=name, index=index, state=dict(s.state))
            s.states[cid] = dict(s.state)
            index += 1
        elif move == "llm":
            numbered = draw(st.booleans())
            s.add(
                "llm.call",
                numbered=numbered,
                model="m",
                input_tokens=3,
                output_tokens=5,
                cost_usd=0.25,
            )
            s.llm_calls += 1
        elif move == "tool":
            s.add("tool.call", numbered=draw(st.booleans()), tool="grep")
            s.tool_calls += 1
        elif move == "pause":
            s.add("execution.paused")
            s.add("execution.resumed")
        elif move == "fail":
            s.add(
                "step.retried", step="x", index=index, retry=1, error={"type": "E", "message": "m"}
            )
            s.steps[(s.attempt, index)] = "retrying"
        elif move == "framework":  # a LangGraph checkpoint: a namespace, a run, a snapshot
            ns = draw(st.sampled_from(["", "sub:1"]))
            run_id = draw(st.sampled_from(["r1", "r2", None]))
            cid = f"lg-{len(s.events)}"
            snapshot = {"type": "msgpack", "data": ""}
            s.checkpoint(cid, ns=ns, run_id=run_id, state=dict(s.state), checkpoint=snapshot)
        elif move == "forget":
            forget(draw, s)
        elif move == "rollback":
            restarted = roll_back(draw, s)
            index = index if restarted is None else restarted
    ending = draw(st.sampled_from(["completed", "completed", "failed", "cancelled", "timed_out"]))
    if ending != "completed":
        halt(draw, s, ending)
        return s
    s.output = dict(s.state)
    s.add("execution.completed", output=s.output)
    s.end("completed")
    s.status = "completed"
    return s


def halt(draw: st.DrawFn, s: Script, status: str | None = None) -> None:
    """The attempt ends without completing: failed, cancelled or timed out."""
    status = status or draw(st.sampled_from(["failed", "cancelled", "timed_out"]))
    if status == "failed":
        s.add("execution.failed", error={"type": "E", "message": "m"})
    elif status == "cancelled":
        s.add("execution.cancelled", reason="asked")
    else:
        s.add("execution.timed_out", timeout_s=1.5)
    s.end(status)
    s.status = status


def roll_back(draw: st.DrawFn, s: Script) -> int | None:
    """A rollback to a step checkpoint still listed; the index it goes on from (None: none)."""
    steps = [(cid, a) for cid, a, _, _ in s.live if cid in s.states]
    if not steps:
        return None
    cid, from_attempt = draw(st.sampled_from(steps))
    s.end("abandoned")  # the attempt it leaves is superseded
    s.attempt = max(s.seq) + 1
    s.add(
        "execution.rolled_back",
        from_attempt=from_attempt,
        checkpoint_id=cid,
        branch_seq=1,
        overrides={"edited": True},
        state={**s.states[cid], "edited": True},
    )
    s.state = {**s.states[cid], "edited": True}
    s.output = None
    s.status = "running"
    return int(cid.split("-")[1]) + 1


def forget(draw: st.DrawFn, s: Script) -> None:
    """A tombstone, as a checkpointer writes it, and what it forgets."""
    kind = draw(st.sampled_from(["thread_deleted", "pruned", "runs_deleted"]))
    if kind == "thread_deleted":
        s.add("checkpoint.thread_deleted")
        s.live = []
    elif kind == "pruned":
        kept = draw(
            st.lists(st.sampled_from([(ns, cid) for cid, _, ns, _ in s.live] or [("", "x")]))
        )
        refs = [{"ns": ns, "checkpoint_id": cid} for ns, cid in kept]
        s.add("checkpoint.pruned", strategy="keep_latest", kept=refs)
        s.live = [c for c in s.live if (c[2], c[0]) in set(kept)]
    else:
        run_ids = draw(st.lists(st.sampled_from(["r1", "r2", "r3"]), min_size=1, unique=True))
        s.add("checkpoint.runs_deleted", run_ids=run_ids)
        s.live = [c for c in s.live if c[3] not in run_ids]


def positions(events: list[Event]) -> list[tuple[str, int, int]]:
    return [("omium.events", 3, 100 + i) for i in range(len(events))]


@settings(max_examples=200, deadline=None)
@given(script=scripts())
def test_fold__agrees_with_the_scripts_own_model(script: Script) -> None:
    """The fold against an oracle written independently of it (the Script's bookkeeping)."""
    view = fold(script.events)
    assert view.status == script.status
    assert (view.attempt, view.state, view.output) == (script.attempt, script.state, script.output)
    assert [((s.attempt, s.index), s.status) for s in view.steps] == list(script.steps.items())
    assert view.last_seq == script.seq
    assert [(c.checkpoint_id, c.attempt, c.ns, c.run_id) for c in view.checkpoints] == script.live
    usage = view.usage
    assert (usage.llm_calls, usage.tool_calls) == (script.llm_calls, script.tool_calls)
    assert (usage.input_tokens, usage.output_tokens) == (3 * script.llm_calls, 5 * script.llm_calls)
    assert usage.cost_usd == 0.25 * script.llm_calls


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
    # an unnumbered fact (seq 0) cannot be told from its redelivery by seq: only numbered
    # ones are redelivered here (seq-0 facts still sit among them, and must not reset it)
    numbered = [item for item in items if item[0].seq]
    for _ in range(data.draw(st.integers(1, 6))):
        original = numbered[data.draw(st.integers(0, len(numbered) - 1))]
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


@settings(max_examples=150, deadline=None)
@given(events=executions(), data=st.data())
def test_fold__a_finished_execution_has_no_unfinished_step(
    events: list[Event], data: st.DataObject
) -> None:
    """Every prefix: steps of an attempt that is over have a final status; others may run."""
    stop = data.draw(st.integers(1, len(events)))
    view = fold(events[:stop])
    for step in view.steps:
        over = step.attempt < view.attempt or view.finished
        assert not over or step.status not in ("running", "retrying"), (step, view.status)
