"""A LangGraph graph run, superstep by superstep: what the executor drives for graphs.

:func:`load_graph` imports ``graph: module:factory`` and compiles it with omium's
checkpointer. :class:`GraphRun` streams one invocation and turns the graph's activity into
omium facts, handed to ``record``:

- each task (a node run) is a step: ``step.started`` and ``step.completed`` (its writes as
  JSON) or ``step.failed``; ``index`` counts the attempt's tasks; each retry LangGraph
  makes under a ``RetryPolicy`` is a ``step.retried`` (the try's error, the delay) and a
  ``step.started`` with the next ``retry`` (see :mod:`.tries`);
- a task of a node listed in ``agent_nodes`` that follows another agent's is an
  ``agent.handoff`` (reason: the edge or ``Command(goto=...)`` that triggered it);
- the checkpoints themselves are recorded by the checkpointer (``OmiumSaver``).

The stream yields after every checkpoint: the consumer decides there whether the graph
goes on (a pause is simply not pulling the next superstep). After the stream ends,
:meth:`GraphRun.outcome` says whether the graph finished or waits on an ``interrupt()``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.channels.binop import BinaryOperatorAggregate
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph, StateGraph
from langgraph.pregel import Pregel
from langgraph.types import Command, StreamMode

from omium.adapters.jsonable import jsonable
from omium.adapters.langgraph.tries import Tries
from omium.adapters.python import import_attr
from omium.schemas import InvalidSpec, ns_path
from omium.schemas.workflow import WorkflowSpec

Record = Callable[[str, dict[str, Any]], Awaitable[None]]
_MODES: list[StreamMode] = ["tasks", "checkpoints"]
#: the channel only a functional-API entrypoint has (what the previous run returned)
_ENTRYPOINT_CHANNEL = "__previous__"
_MISSING = object()


def load_graph(
    spec: WorkflowSpec, folder: Path, filename: str, saver: BaseCheckpointSaver[Any]
) -> Pregel[Any, Any, Any, Any]:
    """Import ``spec.graph`` and compile it with ``saver``.

    It may name a compiled graph, a ``StateGraph`` builder, or a function returning either
    (called with no arguments). A compiled graph keeps its settings; only its checkpointer
    is replaced.

    Raises:
        InvalidSpec: the module or attribute is missing, or it is not a graph.
    """
    assert spec.graph is not None
    where = f"{filename}: graph"
    found = import_attr(spec.graph, folder.resolve(), where)
    if callable(found) and not isinstance(found, Pregel | StateGraph):
        try:
            found = found()
        except Exception as exc:
            raise InvalidSpec(
                f"{where}: {spec.graph}() raised {type(exc).__name__}: {exc}"
            ) from None
    refuse_functional(found, where, spec.graph)
    if isinstance(found, StateGraph):
        return found.compile(checkpointer=saver)
    if isinstance(found, Pregel):
        return found.copy({"checkpointer": saver})
    raise InvalidSpec(
        f"{where}: {spec.graph} is a {type(found).__name__}; "
        "give a StateGraph, a compiled graph, or a function returning one"
    )


def refuse_functional(found: object, where: str, name: str) -> None:
    """Refuse a functional-API workflow (``@entrypoint``): omium runs graphs, not those.

    An entrypoint's tasks are not nodes: streamed as a graph they never end as steps and
    its checkpoints hold no state, so re-execution could not match. It stays supported
    where LangGraph itself runs it, with ``OmiumSaver`` as its checkpointer.

    Raises:
        InvalidSpec: ``found`` is an ``@entrypoint``.
    """
    if isinstance(found, Pregel) and not isinstance(found, CompiledStateGraph):
        if _ENTRYPOINT_CHANNEL in found.channels:
            raise InvalidSpec(
                f"{where}: {name} is a functional-API @entrypoint, which `omium run` does not "
                "run; give a StateGraph, or use OmiumSaver as the entrypoint's checkpointer"
            )


@dataclass(frozen=True, slots=True)
class Superstep:
    """A checkpoint the graph just wrote: a step boundary."""

    checkpoint_id: str
    step: int
    source: str
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    """The graph ran to its end."""

    output: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The graph waits on ``interrupt()``: one entry per pending interrupt."""

    requests: tuple[dict[str, Any], ...]


@dataclass
class _Task:
    name: str
    index: int
    began: float
    retry: int = 0
    #: the checkpoint namespace the task runs in ('' = the root graph)
    ns: str = ""


@dataclass
class GraphRun:
    """One streamed invocation of ``graph`` for execution ``thread_id`` (see the module docs)."""

    graph: Pregel[Any, Any, Any, Any]
    thread_id: str
    record: Record
    agent_nodes: Sequence[str] = ()
    #: tasks started in this attempt so far: the next step index
    tasks_started: int = 0
    #: node -> step indexes started but not finished before a crash: the re-run takes them
    unfinished: dict[str, list[int]] = field(default_factory=dict)
    last_agent: str | None = None
    _open: dict[str, _Task] = field(default_factory=dict)
    #: namespace -> the steps completed there since its last checkpoint
    _done: dict[str, list[str]] = field(default_factory=dict)
    _indexes: dict[str, int] = field(default_factory=dict)
    _tries: Tries | None = None
    #: the channel values at the last root checkpoint: the base of the running superstep
    _values: dict[str, Any] = field(default_factory=dict)
    #: reducer channels with the running superstep's writes so far applied
    _reduced: dict[str, Any] = field(default_factory=dict)

    def checkpointed(self, ns: str = "") -> tuple[str, ...]:
        """The steps completed in ``ns`` since its last checkpoint (which the new one holds).

        A subgraph's steps are named by their path (``write/draft``: node ``draft`` of the
        subgraph node ``write``).
        """
        return tuple(self._done.pop(ns, ()))

    def config(self, checkpoint_id: str | None = None) -> RunnableConfig:
        """The graph config of this thread (at ``checkpoint_id`` when given)."""
        configurable = {"thread_id": self.thread_id, "checkpoint_ns": ""}
        if checkpoint_id is not None:
            configurable["checkpoint_id"] = checkpoint_id
        return RunnableConfig(configurable=configurable)

    async def supersteps(
        self, graph_input: Any, checkpoint_id: str | None = None
    ) -> AsyncGenerator[Superstep, None]:
        """Run the graph from ``checkpoint_id`` (the thread's newest when None).

        ``graph_input``: the inputs of a fresh run, ``None`` to continue, or a
        ``Command(resume=...)`` answering an interrupt.
        """
        self._tries = Tries(self._retried)  # a stream of its own: a resumed task is no retry
        config = self.config(checkpoint_id)
        self._base(await self.graph.aget_state(config))
        config["callbacks"] = [self._tries]
        stream = self.graph.astream(
            graph_input,
            config,
            stream_mode=_MODES,
            durability="sync",  # a checkpoint is on the log before the next superstep runs
            subgraphs=True,  # a subgraph's nodes are steps too, nested under their node
        )
        async for where, mode, part in stream:
            chunk: dict[str, Any] = part  # type: ignore[assignment]  # (ns, mode, dict)
            ns = "|".join(where)
            if mode == "tasks":
                await self._task(chunk, ns)
            elif mode == "checkpoints" and not ns:  # a subgraph's superstep is no boundary
                configurable = chunk["config"]["configurable"]
                metadata = chunk.get("metadata") or {}
                self._base(chunk)
                nodes = self.checkpointed()
                yield Superstep(
                    configurable["checkpoint_id"],
                    int(metadata.get("step", -1)),
                    str(metadata.get("source", "loop")),
                    nodes,
                )

    async def _task(self, chunk: dict[str, Any], ns: str = "") -> None:
        task_id, name = str(chunk["id"]), str(chunk["name"])
        if "result" not in chunk and "error" not in chunk:  # a task starts
            if name.startswith("__"):
                return  # __start__: the input written into the graph, not a node
            parent: int | None = None
            if ns:  # a subgraph's node, run by the task its namespace's last part names
                parent = self._indexes.get(ns.rsplit("|", 1)[-1].partition(":")[2])
                name = f"{ns_path(ns)}/{name}"
            # a task interrupted (or cut by a crash) runs again under its id: same step
            index = self._indexes.get(task_id)
            if index is None and self.unfinished.get(name):
                index = self._indexes[task_id] = self.unfinished[name].pop(0)
            if index is None:
                index = self._indexes[task_id] = self.tasks_started
                self.tasks_started += 1
            retry = self._tries.retry(task_id) if self._tries else 0
            task = self._open[task_id] = _Task(name, index, time.perf_counter(), retry, ns)
            started: dict[str, Any] = {"step": name, "index": task.index, "retry": retry}
            if ns:
                started["parent"] = parent
            else:
                await self._handoff(name, chunk.get("triggers", ()))
            await self.record("step.started", started)
            return
        for event_type, payload in self.finish(
            task_id, chunk.get("result"), chunk.get("error"), bool(chunk.get("interrupts"))
        ):
            await self.record(event_type, payload)

    def finish(
        self, task_id: str, result: Any, error: Any, interrupted: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        """The step fact of a task that ended (none if it is not open, or was interrupted).

        Called from the stream's result, or earlier by the checkpointer's sink when the
        task's writes are saved: so ``step.completed`` precedes the checkpoint holding it.
        """
        task = self._open.get(task_id)
        if task is None or interrupted:
            return []  # already finished; or stopped at interrupt(): it runs again
        del self._open[task_id]
        duration = (time.perf_counter() - task.began) * 1000
        base = {
            "step": task.name,
            "index": task.index,
            "retry": task.retry,
            "duration_ms": duration,
        }
        if error is not None:
            message = error.get("message", error) if isinstance(error, dict) else error
            kind = error.get("type") if isinstance(error, dict) else type(error).__name__
            failed = {**base, "error": {"type": str(kind), "message": str(message)}}
            return [("step.failed", failed)]
        self._done.setdefault(task.ns, []).append(task.name)
        output = jsonable(result)
        completed = {**base, "output": output if isinstance(output, dict) else {"result": output}}
        if isinstance(result, dict) and not task.ns:  # the base is the root graph's state
            accumulated = self._accumulate(result)
            if accumulated:
                completed["accumulated"] = jsonable(accumulated)
        return [("step.completed", completed)]

    def _base(self, snapshot: Any) -> None:
        """A root checkpoint (a chunk or a ``StateSnapshot``): the next superstep's base."""
        values = snapshot.get("values") if isinstance(snapshot, dict) else snapshot.values
        self._values = dict(values) if isinstance(values, dict) else {}
        self._reduced = {}

    def _accumulate(self, writes: dict[str, Any]) -> dict[str, Any]:
        """The reducer channels ``writes`` touch, with the superstep's writes so far applied.

        As LangGraph applies them at the superstep's end (a channel without a value takes
        the first write as is), in the order the tasks finished: so a replay between two
        parallel steps shows both branches' items, not the last one's alone.
        """
        found: dict[str, Any] = {}
        for key, value in writes.items():
            channel = self.graph.channels.get(key)
            if not isinstance(channel, BinaryOperatorAggregate):
                continue
            before = self._reduced.get(key, self._values.get(key, _MISSING))
            try:
                now = value if before is _MISSING else channel.operator(before, value)
            except Exception:  # a reducer that refuses what it gets here: no accumulated value
                continue
            self._reduced[key] = found[key] = now
        return found

    async def _retried(
        self, task_id: str, node: str, retry: int, error: dict[str, str], waited: float
    ) -> None:
        """LangGraph runs the task again: its last try failed with ``error``."""
        task = self._open.get(task_id)
        if task is None or task.name != node:
            return  # its start is not streamed yet: that start carries the retry
        task.retry, task.began = retry, time.perf_counter()
        where = {"step": task.name, "index": task.index, "retry": retry}
        await self.record("step.retried", {**where, "error": error, "delay_s": waited})
        await self.record("step.started", where)

    async def _handoff(self, name: str, triggers: Sequence[str]) -> None:
        if name not in self.agent_nodes:
            return
        previous, self.last_agent = self.last_agent, name
        if previous is None or previous == name:
            return
        # an edge, a conditional edge and Command(goto=...) all trigger the node via a
        # "branch:to:<node>" channel: the trigger says which channel, not which kind
        how = ", ".join(str(t) for t in triggers) or "graph edge"
        await self.record(
            "agent.handoff",
            {"from_agent": previous, "to_agent": name, "reason": f"triggered by {how}"},
        )

    async def outcome(self) -> Finished | Interrupted:
        """After the stream ended: finished, or waiting on interrupts."""
        state = await self.graph.aget_state(self.config())
        pending = [
            {"request_id": str(i.id), "value": jsonable(i.value)}
            for i in getattr(state, "interrupts", ())
        ]
        if pending:
            return Interrupted(tuple(pending))
        values = jsonable(state.values)
        return Finished(values if isinstance(values, dict) else {"result": values})


def resume_command(value: Any) -> Command[Any]:
    """The input that answers the graph's interrupt with ``value``."""
    return Command(resume=value)
