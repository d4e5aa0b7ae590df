"""Run a crew task by task: :class:`CrewRun`, what the executor drives.

::

    run = CrewRun(crew_factory(spec, folder), inputs, record=record)
    async for done in run.tasks():      # TaskDone after each task; the crew waits meanwhile
        await checkpoint(done)          # pausing here pauses the crew between two tasks
    final = run.result

How it works:

- ``kickoff`` runs on a daemon thread with a fresh ``contextvars`` context holding the
  run's :class:`~omium.adapters.crewai.listener.RunScope` and crewai's execution-scoped
  hooks (``crewai.hooks.dispatch.scoped_hooks``) for ``pre/post_step`` (task boundaries),
  ``pre_model_call`` and ``pre/post_tool_call``. Being context-scoped, the hooks of one
  run never fire for another.
- At ``post_step`` of task *k* the crew thread flushes crewai's event bus, converts the
  run's events to payloads, sends them and ``TaskDone(k)`` to the event loop in emission
  order, and blocks until the consumer asks for the next item. ``record`` is awaited on
  the loop for each payload before ``TaskDone(k)`` is yielded. Payloads are also sent
  before each model and tool call, so a long task is recorded as it goes.
- Closing or cancelling the iterator stops the crew at its next task boundary, model call
  or tool call (whichever comes first) and abandons the thread: an LLM or tool call in
  flight cannot be interrupted; what it emits or logs afterwards is dropped (see
  :mod:`omium.adapters.crewai.listener`) and the thread unwinds quietly.
- When the process exits, Python first waits for the calls in flight (crewai runs them on
  ``concurrent.futures`` workers); then, at exit, abandoned crew threads get up to
  ``EXIT_GRACE_S`` to unwind. A daemon thread still running when the interpreter
  finalizes is killed with ``pthread_exit``, which aborts the whole process (SIGABRT) if
  a native frame such as pydantic-core's is on its stack.

**Resume from task k** (``start=k``, ``prior`` = the outputs of tasks ``0..k-1`` as
``TaskDone`` gave them): tasks ``k..`` run with the earlier outputs as their context, as if
they had run; how, and which crewai internals that takes: :mod:`omium.adapters.crewai.prepare`.

**Re-execution** (``replay=crew_calls(...)``): see :mod:`omium.adapters.crewai.replay`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crewai import Crew, CrewOutput
from crewai.hooks.dispatch import InterceptionPoint, scoped_hooks
from crewai.tasks.task_output import TaskOutput
from pydantic import JsonValue

from omium.adapters.crewai.listener import (
    RunScope,
    current_scope,
    ensure_listener,
    flush,
    recorded_tool_answer,
    report_tool_result,
)
from omium.adapters.crewai.payloads import (
    PayloadBuilder,
)
from omium.adapters.crewai.prepare import output_of, prepare_crew
from omium.producers.recorded import Diverged, RecordedCalls
from omium.schemas.errors import CrewTaskFailed

Record = Callable[[str, dict[str, Any]], Awaitable[None]]

#: At interpreter exit, how long abandoned crew threads may take to unwind (in all).
EXIT_GRACE_S = 5.0
_abandoned: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_abandoned_lock = threading.Lock()


def _join_abandoned() -> None:
    """Let abandoned crew threads unwind before the interpreter finalizes (module docs).

    Registered after crewai's own exit handlers, so it runs before them.
    """
    deadline = time.monotonic() + EXIT_GRACE_S
    with _abandoned_lock:
        threads = list(_abandoned)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


atexit.register(_join_abandoned)


def abandoned(thread: threading.Thread) -> None:
    """Let ``thread`` (a crew's or a flow's, left running) unwind at exit (module docs)."""
    with _abandoned_lock:
        _abandoned.add(thread)


@dataclass(frozen=True)
class TaskDone:
    """One task of the crew finished.

    Attributes:
        index: its position in ``crew.tasks``.
        name: its ``name`` (``task_<index>`` when it has none); the step name.
        agent: the role of the agent that ran it.
        output: ``raw`` text, plus ``json`` and ``pydantic`` (as JSON) when it has them.
        duration_ms: from the task's start to its end.
    """

    index: int
    name: str
    agent: str | None
    output: dict[str, JsonValue]
    duration_ms: float


class _Stopped(BaseException):
    """The consumer stopped iterating; the crew thread unwinds (crewai cannot catch it)."""


class CrewRun:
    """One run of a crew, task by task (see the module docs).

    Args:
        factory: builds the crew (a fresh one; see :func:`~omium.adapters.crewai.crew_factory`).
        inputs: crewai kickoff inputs (fill the ``{placeholders}``).
        record: awaited on the event loop with each ``(type, payload)``, in order.
        start: the index of the first task to run.
        prior: the outputs of tasks ``0..start-1`` as :class:`TaskDone` gave them.
        replay: answer every LLM and tool call from this recording instead.
    """

    def __init__(
        self,
        factory: Callable[[], Crew],
        inputs: Mapping[str, Any],
        *,
        record: Record,
        start: int = 0,
        prior: Sequence[Mapping[str, JsonValue]] = (),
        replay: RecordedCalls | None = None,
    ) -> None:
        if start < 0 or len(prior) != start:
            raise ValueError(
                f"resuming at task {start} needs {start} prior outputs, got {len(prior)}"
            )
        self._factory, self._inputs, self._record = factory, dict(inputs), record
        self._start, self._prior, self._replay = start, list(prior), replay
        self.crew: Crew | None = None
        self._result: dict[str, JsonValue] | None = None
        self._scope = RunScope()
        self._gate = threading.Semaphore(0)
        self._stop = threading.Event()
        self._send_item: Callable[[tuple[str, Any]], object] | None = None
        self._builder: PayloadBuilder | None = None
        self._drain_lock = threading.Lock()
        self._names: list[str] = []
        self._running: dict[int, float] = {}
        self._tools: dict[int, tuple[float, Mapping[str, Any] | None]] = {}
        self._started = False

    @property
    def result(self) -> dict[str, JsonValue]:
        """The crew's final output (as :func:`output_of`, plus ``token_usage``)."""
        if self._result is None:
            raise RuntimeError("the crew has not finished: iterate tasks() to the end first")
        return self._result

    async def tasks(self) -> AsyncIterator[TaskDone]:
        """Run the crew; yield after each task while the crew waits (see the module docs).

        Raises:
            CrewTaskFailed: a task raised (its payloads are recorded first).
            Diverged: re-execution asked something the recording does not have.
        """
        if self._started:
            raise RuntimeError("a CrewRun runs once; tasks() was already called")
        self._started = True
        ensure_listener()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._send_item = lambda item: loop.call_soon_threadsafe(queue.put_nowait, item)
        thread = threading.Thread(
            target=contextvars.Context().run, args=(self._main,), name="omium-crew", daemon=True
        )
        thread.start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "event":
                    await self._record(*value)
                elif kind == "task":
                    yield value
                    self._gate.release()
                elif kind == "end":
                    self._result = value
                    return
                else:
                    raise value
        finally:
            if self._result is None:
                self._stop.set()
                self._scope.abandon()
                abandoned(thread)
                self._gate.release()

    # -- on the crew thread -------------------------------------------------------------

    def _main(self) -> None:
        current_scope.set(self._scope)
        try:
            with scoped_hooks(self._hooks()):
                crew = self._prepare(self._factory())
                output = crew.kickoff(inputs=self._inputs)
            assert isinstance(output, CrewOutput)  # streaming is off (see _prepare)
            self._drain()
            if self._replay is not None:
                self._replay.check_all_used()
            usage = output.token_usage.model_dump(mode="json") if output.token_usage else {}
            final = {**output_of(output.tasks_output[-1]), "token_usage": usage}
            final["raw"] = output.raw
            self._send(("end", final))
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - everything reaches the consumer
            self._drain()  # abandoned (stop set): these send nothing, the thread just ends
            self._send(("error", self._failure(exc)))
        finally:
            self._scope.close()

    def _failure(self, exc: BaseException) -> BaseException:
        if isinstance(exc, Diverged) or not self._running:
            return exc
        index = max(self._running)
        return CrewTaskFailed(index, self._names[index], exc)

    def _prepare(self, crew: Crew) -> Crew:
        if not isinstance(crew, Crew):
            raise TypeError(f"the crew factory returned a {type(crew).__name__}, not a Crew")
        self.crew = crew
        self._names = prepare_crew(crew, self._start, self._prior, self._replay)
        tasks, previous = crew.tasks, None
        if self._start:
            before = tasks[self._start - 1]
            previous = (before.agent.role if before.agent else None, self._names[self._start - 1])
        self._builder = PayloadBuilder(
            [(str(task.id), name) for task, name in zip(tasks, self._names, strict=True)],
            [agent.role for agent in crew.agents],
            previous,
        )
        agents = [*crew.agents, *(t.agent for t in tasks if t.agent)]
        self._scope.claim({str(t.id) for t in tasks} | {str(a.id) for a in agents})
        return crew

    def _hooks(self) -> dict[InterceptionPoint, list[Callable[[Any], Any]]]:
        return {
            InterceptionPoint.PRE_STEP: [self._pre_step],
            InterceptionPoint.POST_STEP: [self._post_step],
            InterceptionPoint.PRE_MODEL_CALL: [self._pre_model_call],
            InterceptionPoint.POST_MODEL_CALL: [self._post_model_call],
            InterceptionPoint.PRE_TOOL_CALL: [self._pre_tool_call],
            InterceptionPoint.POST_TOOL_CALL: [self._post_tool_call],
        }

    def _index(self, ctx: Any) -> int | None:
        if getattr(ctx, "kind", None) != "task" or self.crew is None:
            return None
        return next((i for i, task in enumerate(self.crew.tasks) if task is ctx.task), None)

    def _pre_step(self, ctx: Any) -> None:
        self._check_stop()
        index = self._index(ctx)
        if index is not None:
            self._running[index] = time.perf_counter()

    def _post_step(self, ctx: Any) -> None:
        index = self._index(ctx)
        if index is None or index not in self._running:
            return
        began = self._running.pop(index)
        output = ctx.payload if isinstance(ctx.payload, TaskOutput) else ctx.output
        done = TaskDone(
            index=index,
            name=self._names[index],
            agent=getattr(ctx, "agent_role", None),
            output=output_of(output),
            duration_ms=(time.perf_counter() - began) * 1000,
        )
        self._drain()
        self._send(("task", done))
        self._gate.acquire()  # released when the consumer asks for the next item
        self._check_stop()

    def _pre_model_call(self, ctx: Any) -> None:
        self._check_stop()
        self._drain()

    def _post_model_call(self, ctx: Any) -> None:
        self._check_stop()  # abandoned while the model answered: go no further

    def _pre_tool_call(self, ctx: Any) -> bool | None:
        self._check_stop()
        self._drain()
        recorded = recorded_tool_answer(self._replay, ctx)
        self._tools[id(ctx.tool_input)] = (time.perf_counter(), recorded)
        return False if recorded is not None else None  # False: crewai skips the tool

    def _post_tool_call(self, ctx: Any) -> str | None:
        """Report the call: what the tool returned, and what the agent saw if that differs.

        crewai hands the agent ``ctx.tool_result``: the tool's output as text, plus its
        tool-format reminder on every few calls of a task. ``ctx.raw_tool_result`` is what
        the tool returned. Re-execution hands back the recorded text the agent saw.
        """
        began, recorded = self._tools.pop(id(ctx.tool_input), (time.perf_counter(), None))
        self._check_stop()  # abandoned while the tool ran: its result is dropped
        return report_tool_result(self, ctx, began, recorded)

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _drain(self) -> None:
        """Send the run's payloads so far, in emission order."""
        if self._builder is None or self._stop.is_set():
            return
        flush()
        with self._drain_lock:
            for record in self._scope.take():
                for kind, payload in self._builder.feed(record):
                    self._send(("event", (kind, payload)))

    def _send(self, item: tuple[str, Any]) -> None:
        if self._stop.is_set() or self._send_item is None:
            return
        try:
            self._send_item(item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._stop.set()
