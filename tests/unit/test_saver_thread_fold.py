"""LangGraph threads recorded by ``OmiumSaver`` outside the executor, as the fold shows them.

Events are written as the saver records them (see ``omium.adapters.langgraph.payloads``):
a ``checkpoint.created`` per superstep with LangGraph's metadata, and a
``checkpoint.writes_saved`` per task against the checkpoint it ran from.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omium.projections import ExecutionView, fold, view_from_dict, view_to_dict, without_states
from omium.schemas import Event, from_dict

T0 = datetime(2026, 11, 30, tzinfo=UTC)
SNAPSHOT = {"type": "msgpack", "data": ""}


class Thread:
    """A saver thread's events, and an oracle of what its view must show."""

    def __init__(self, graph: str | None = None) -> None:
        self.events: list[Event] = []
        self.graph = graph
        self.newest: str | None = None
        self.step = -1  # LangGraph's metadata step of the newest checkpoint
        #: (attempt, index) -> (name, status), in the order rows appear
        self.rows: dict[tuple[int, int], tuple[str, str]] = {}
        self.status = "idle"

    def add(self, kind: str, **payload: Any) -> None:
        self.events.append(
            from_dict(
                {
                    "type": kind,
                    "execution_id": "th-1",
                    "attempt": 1,
                    "seq": len(self.events) + 1,
                    "ts": (T0 + timedelta(milliseconds=len(self.events))).isoformat(),
                    "payload": payload,
                }
            )
        )

    def checkpoint(self, source: str = "loop") -> None:
        cid = f"c{len(self.events)}"
        metadata: dict[str, Any] = {"source": source, "step": self.step + 1, "parents": {}}
        if source == "input":
            metadata["step"] = self.step + 1 if self.newest else -1
        if self.graph:
            metadata["graph_id"] = self.graph
        step = metadata["step"]
        self.add(
            "checkpoint.created",
            checkpoint_id=cid,
            step=source,
            index=step if step >= 0 else None,
            state={},
            parent_id=self.newest,
            ns="",
            metadata=metadata,
            checkpoint=SNAPSHOT,
        )
        self.newest, self.step = cid, step

    def writes(self, node: str | None, *channels: str) -> None:
        assert self.newest is not None
        path = f"~__pregel_pull, {node}" if node else ""
        writes = [{"idx": i, "channel": c, "value": SNAPSHOT} for i, c in enumerate(channels)]
        self.add(
            "checkpoint.writes_saved",
            checkpoint_id=self.newest,
            task_id=f"t{len(self.events)}",
            task_path=path,
            writes=writes,
        )


@st.composite
def threads(draw: st.DrawFn) -> Thread:
    """Invocations of a graph: supersteps of one to three nodes, interrupts, resumes, an
    unfinished last superstep."""
    t = Thread(draw(st.sampled_from([None, "support"])))
    t.checkpoint("input")
    t.writes("__start__", "messages")
    t.checkpoint()
    t.rows[(1, 0)] = ("__start__", "completed")
    for _ in range(draw(st.integers(0, 6))):
        index = t.step + 1
        nodes = draw(
            st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)
        )
        ending = draw(st.sampled_from(["done", "done", "interrupt", "cut", "error"]))
        for node in nodes:
            t.writes(node, "x")
        name = ", ".join(nodes)
        if ending == "done":
            t.checkpoint()
            t.rows[(1, index)] = (name, "completed")
            continue
        if ending == "interrupt":
            t.writes(nodes[0], "__interrupt__")
            t.rows[(1, index)] = (name, "waiting")
            t.status = "waiting"
            if draw(st.booleans()):  # answered with Command(resume=...)
                t.writes(None, "__resume__")
                t.writes(nodes[0], "__resume__", "answer")
                t.checkpoint()
                t.rows[(1, index)] = (name, "completed")
                t.status = "idle"
                continue
        elif ending == "cut":
            t.rows[(1, index)] = (name, "incomplete")
        else:
            t.writes(nodes[-1], "__error__")
            t.rows[(1, index)] = (name, "failed")
        break
    return t


@settings(max_examples=200, deadline=None)
@given(thread=threads())
def test_fold__a_saver_thread_agrees_with_its_oracle(thread: Thread) -> None:
    view = fold(thread.events)
    assert view.saver is not None and view.saver.newest == thread.newest
    assert view.status == thread.status and not view.finished
    assert view.workflow == thread.graph
    rows = [((s.attempt, s.index), (s.name, s.status)) for s in view.steps]
    assert rows == list(thread.rows.items())
    assert view.saver.last_checkpoint_at == max(
        e.ts for e in thread.events if e.type == "checkpoint.created"
    )


@settings(max_examples=150, deadline=None)
@given(thread=threads(), data=st.data())
def test_fold__a_saver_thread_split_anywhere_and_stored_between(
    thread: Thread, data: st.DataObject
) -> None:
    """What a projector does: fold a batch, store the view, fold the rest (or a redelivery)."""
    events = thread.events
    cut = data.draw(st.integers(0, len(events)))
    first = fold(events[:cut], ExecutionView(execution_id="th-1"))
    stored = view_from_dict(view_to_dict(without_states(first)))
    again = data.draw(st.integers(0, cut))  # events before the cut, delivered once more
    continued = fold(events[again:], stored)
    assert without_states(continued) == without_states(fold(events))


def test_fold__an_interrupted_thread_waits_until_answered() -> None:
    """The order the saver records in: the interrupt's write before its checkpoint."""
    t = Thread()
    t.checkpoint("input")
    t.writes("__start__", "n")
    t.checkpoint()
    t.writes("ask", "__interrupt__")  # against the step-0 checkpoint
    view = fold(t.events)
    assert view.status == "waiting"
    assert [(s.name, s.status) for s in view.steps] == [
        ("__start__", "completed"),
        ("ask", "waiting"),
    ]


def test_fold__a_run_with_framework_checkpoints_is_not_a_saver_thread() -> None:
    """The executor's LangGraph runs record the same checkpoints after execution.started."""
    started = [
        from_dict(
            {
                "type": "execution.submitted",
                "execution_id": "th-1",
                "seq": 1,
                "payload": {"workflow": "g"},
            }
        ),
        from_dict(
            {
                "type": "execution.started",
                "execution_id": "th-1",
                "seq": 2,
                "payload": {"workflow": "g"},
            }
        ),
    ]
    t = Thread()
    t.checkpoint("input")
    t.writes("__start__", "n")
    events = [*started, *(e.model_copy(update={"seq": e.seq + 2}) for e in t.events)]
    view = fold(events)
    assert view.saver is None and view.status == "running" and view.steps == ()


def test_stored_view__without_a_saver_entry_reads_as_a_run() -> None:
    """Views stored before saver threads were told apart keep reading."""
    t = Thread()
    t.checkpoint("input")
    data = view_to_dict(fold(t.events))
    del data["saver"]
    assert view_from_dict(data).saver is None
