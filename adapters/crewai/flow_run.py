"""Run a CrewAI Flow method by method: :class:`FlowRun`, what the executor drives.

::

    run = FlowRun(factory, {"id": execution_id, **inputs}, record=record)
    async for done in run.methods():    # MethodDone after each method; the flow waits meanwhile
        await checkpoint(done)          # pausing here pauses the flow between two methods
    final = run.result

As :class:`~omium.adapters.crewai.run.CrewRun` does for a crew's tasks: ``kickoff`` runs
on a daemon thread with a fresh ``contextvars`` context holding the run's
:class:`~omium.adapters.crewai.listener.RunScope`, crewai's console switch set to quiet
(its ``Flow Method Running`` panels stay out of omium's output) and execution-scoped hooks:
crewai's ``post_step`` of each flow method (dispatched on the flow's event loop, so every
method of the flow waits) sends the method's :class:`MethodDone` and blocks until the
consumer asks for the next one; model and tool calls of the crews inside go through
:class:`~omium.adapters.crewai.calls.CallHooks` (recorded, or answered from a recording).
Closing the iterator stops the flow at its next method boundary, model or tool call; the
thread is then left to unwind, given time at exit as a crew's is.

**The flow's state** is given to ``kickoff(inputs=...)``: crewai sets each key on the
flow's state (a dict, or its pydantic model), and an ``id`` key names the state (omium
passes the execution id, so a re-run has the same state).

**Resume after method k** (``prior`` = the ``(method, output)`` of every method run before,
in order; ``inputs`` = the flow's state after them): the flow runs again from its start
methods, but each of those executions is served its recorded output without running (the
flow's ``_methods`` entries are wrapped: the one crewai internal this takes, 1.15), so
routers route and listeners fire exactly as they did; the first execution past the
recording runs for real, with the state as it was. An output is served as recorded, as
JSON (a method that returned a pydantic model hands its listeners a dict). crewai's own
resumption (``checkpoint_completed_methods``, ``@persist``) is not used: it hands
listeners of a skipped method ``None`` and loses a router's choice.

**One method at a time.** crewai runs the listeners of one trigger concurrently (sync
methods on threads). omium runs them one after the other (each wrapped method takes a
turn, held until its checkpoint is taken and a pause between methods is over): every
checkpoint is then the state after a whole number of methods, which a resume needs, and
each model or tool call belongs to one method. Parallel I/O inside one method is unchanged.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crewai.flow.flow import Flow
from crewai.flow.types import FlowMethodName
from crewai.hooks.dispatch import InterceptionPoint, scoped_hooks
from crewai_core.printer import set_suppress_console_output
from pydantic import BaseModel, JsonValue

from omium.adapters.crewai.calls import CallHooks, Hooks
from omium.adapters.crewai.listener import RunScope, current_scope, ensure_listener, flush
from omium.adapters.crewai.payloads import PayloadBuilder, jsonable
from omium.adapters.crewai.run import abandoned
from omium.producers.recorded import Diverged, RecordedCalls
from omium.schemas.errors import CrewTaskFailed

Record = Callable[[str, dict[str, Any]], Awaitable[None]]
FlowFactory = Callable[[], Flow[Any]]


@dataclass(frozen=True)
class MethodStarted:
    """A method of the flow began (not one served from ``prior``)."""

    index: int
    name: str


@dataclass(frozen=True)
class MethodDone:
    """One method of the flow returned.

    Attributes:
        index: the how-manieth method execution of the run this is (0 is the first).
        name: the method's name; the step name.
        output: what it returned, as JSON.
        state: the flow's state after it, as JSON.
        duration_ms: from the method's start to its end.
    """

    index: int
    name: str
    output: JsonValue
    state: dict[str, JsonValue]
    duration_ms: float


class _Stopped(BaseException):
    """The consumer stopped iterating; the flow thread unwinds (crewai cannot catch it)."""


def flow_state(flow: Flow[Any]) -> dict[str, JsonValue]:
    """The flow's state as JSON (a dict state, or its pydantic model dumped)."""
    state = flow.state
    if isinstance(state, BaseModel):
        dumped = state.model_dump(mode="json")
        return {str(k): jsonable(v) for k, v in dumped.items()}
    return {str(k): jsonable(v) for k, v in dict(state).items()}


class FlowRun:
    """One run of a flow, method by method (see the module docs).

    Args:
        factory: builds the flow (a fresh one).
        inputs: the flow's state to start with (``kickoff(inputs=...)``).
        record: awaited on the event loop with each ``(type, payload)``, in order.
        prior: ``(method, output)`` of the method executions to serve, not run.
        replay: answer every crew's LLM and tool calls from this recording instead.
    """

    def __init__(
        self,
        factory: FlowFactory,
        inputs: Mapping[str, Any],
        *,
        record: Record,
        prior: Sequence[tuple[str, JsonValue]] = (),
        replay: RecordedCalls | None = None,
    ) -> None:
        self._factory, self._inputs, self._record = factory, dict(inputs), record
        self._serve: dict[str, deque[JsonValue]] = {}  # method -> outputs to serve, in order
        for name, output in prior:
            self._serve.setdefault(name, deque()).append(output)
        self._served: Counter[str] = Counter()
        self._next = len(prior)
        self._replay = replay
        self.flow: Flow[Any] | None = None
        self._result: JsonValue = None
        self._ended = False
        self._scope = RunScope()
        self._builder = PayloadBuilder((), ())
        self._calls = CallHooks(replay, before=self._drain, check=self._check_stop)
        self._gate = threading.Semaphore(0)
        self._stop = threading.Event()
        self._drain_lock = threading.Lock()
        #: held by the method running (from its start to its checkpoint), see the module docs
        self._turn = threading.Lock()
        self._send_item: Callable[[tuple[str, Any]], object] | None = None
        self._began: dict[str, tuple[int, float]] = {}
        self._method: str | None = None
        self._started = False

    @property
    def result(self) -> JsonValue:
        """What the flow's kickoff returned (its last method's output), as JSON."""
        if not self._ended:
            raise RuntimeError("the flow has not finished: iterate methods() to the end first")
        return self._result

    async def methods(self) -> AsyncIterator[MethodStarted | MethodDone]:
        """Run the flow; yield when a method starts, and after it while the flow waits.

        Raises:
            CrewTaskFailed: a method raised (``index`` and ``name`` are the method's).
            Diverged: re-execution asked something the recording does not have.
        """
        if self._started:
            raise RuntimeError("a FlowRun runs once; methods() was already called")
        self._started = True
        ensure_listener()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._send_item = lambda item: loop.call_soon_threadsafe(queue.put_nowait, item)
        thread = threading.Thread(
            target=contextvars.Context().run, args=(self._main,), name="omium-flow", daemon=True
        )
        thread.start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "event":
                    await self._record(*value)
                elif kind == "started":
                    yield value
                elif kind == "method":
                    yield value
                    self._gate.release()
                elif kind == "end":
                    self._result, self._ended = value, True
                    return
                else:
                    raise value
        finally:
            if not self._ended:
                self._stop.set()
                self._scope.abandon()
                abandoned(thread)
                self._gate.release()

    # -- on the flow thread -------------------------------------------------------------

    def _main(self) -> None:
        current_scope.set(self._scope)
        set_suppress_console_output(True)
        try:
            with scoped_hooks(self._hooks()):
                flow = self._factory()
                if not isinstance(flow, Flow):
                    raise TypeError(f"the flow factory returned a {type(flow).__name__}")
                self.flow = flow
                self._wrap_methods(flow)
                output = flow.kickoff(inputs=self._inputs)
            self._drain()
            if self._replay is not None:
                self._replay.check_all_used()
            self._send(("end", jsonable(output)))
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - everything reaches the consumer
            self._drain()
            self._send(("error", self._failure(exc)))
        finally:
            self._scope.close()

    def _failure(self, exc: BaseException) -> BaseException:
        if isinstance(exc, Diverged) or self._method is None:
            return exc
        index = self._began.get(self._method, (self._next, 0.0))[0]
        return CrewTaskFailed(index, self._method, exc)

    def _wrap_methods(self, flow: Flow[Any]) -> None:
        """Wrap every method: one runs at a time; those that ran before are served."""
        methods = flow._methods  # noqa: SLF001 - crewai internal, see the module docs
        for name in self._serve:
            if FlowMethodName(name) not in methods:
                raise Diverged(f"flow method {name}", name, sorted(methods))
        for key, method in list(methods.items()):
            methods[key] = self._wrapped(str(key), method)

    def _wrapped(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        queue = self._serve.get(name, deque())

        def begin() -> tuple[bool, JsonValue]:
            """With the turn held: serve the recorded output, or announce a real run."""
            self._check_stop()  # abandoned while it waited for its turn: it does not run
            if queue:
                self._served[name] += 1
                return True, queue.popleft()
            self._drain()  # what ran before is not this method's
            self._method, index = name, self._next
            self._next += 1
            self._began[name] = (index, time.perf_counter())
            self._send(("started", MethodStarted(index, name)))
            return False, None

        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def one_async(*args: Any, **kwargs: Any) -> Any:
                await asyncio.to_thread(self._turn.acquire)
                try:
                    served, output = begin()
                    return output if served else await method(*args, **kwargs)
                except BaseException:
                    self._turn.release()
                    raise

            return one_async

        @functools.wraps(method)
        def one(*args: Any, **kwargs: Any) -> Any:
            self._turn.acquire()
            try:
                served, output = begin()
                return output if served else method(*args, **kwargs)
            except BaseException:
                self._turn.release()
                raise

        return one

    def _hooks(self) -> Hooks:
        hooks = self._calls.hooks()
        hooks[InterceptionPoint.PRE_STEP] = [self._pre_step]
        hooks[InterceptionPoint.POST_STEP] = [self._post_step]
        return hooks

    def _pre_step(self, ctx: Any) -> None:
        self._check_stop()

    def _post_step(self, ctx: Any) -> None:
        if getattr(ctx, "kind", None) != "flow_method" or ctx.flow is not self.flow:
            return  # a crew's task inside a method, or a flow run inside a method
        name = str(ctx.step_name)
        if self._served[name]:  # an execution served from the recording: no new step
            self._served[name] -= 1
            self._turn.release()
            return
        assert self.flow is not None
        index, began = self._began.pop(name, (self._next, time.perf_counter()))
        done = MethodDone(
            index=index,
            name=name,
            output=jsonable(ctx.payload),
            state=flow_state(self.flow),
            duration_ms=(time.perf_counter() - began) * 1000,
        )
        self._drain(name)
        self._send(("method", done))
        self._gate.acquire()  # released when the consumer asks for the next item
        self._turn.release()  # only now: a parallel method waits out the checkpoint and a pause
        self._check_stop()

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _drain(self, step: str | None = None) -> None:
        """Send the run's payloads so far, in emission order, as calls of ``step``."""
        if self._stop.is_set():
            return
        flush()
        step = step or self._method
        with self._drain_lock:
            for kept in self._scope.take():
                for kind, payload in self._builder.feed(kept):
                    self._send(("event", (kind, {**payload, "step": step})))

    def _send(self, item: tuple[str, Any]) -> None:
        if self._stop.is_set() or self._send_item is None:
            return
        try:
            self._send_item(item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._stop.set()
