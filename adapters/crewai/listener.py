"""One listener on crewai's process-wide event bus, routing each event to its crew run.

crewai's bus is a singleton and its handlers run on a shared thread pool, so a worker
running several crews at once sees all their events in one stream. Each
:class:`~omium.adapters.crewai.run.CrewRun` owns a :class:`RunScope`; an event goes to
the scope of the run that emitted it, found in this order:

1. the ``omium_crew_run`` context variable, set on the run's crew thread. crewai submits
   every handler call with a copy of the *emitting* thread's context
   (``CrewAIEventsBus.emit``: ``contextvars.copy_context().run``), and copies the context
   into the threads it starts itself (async tasks, agent timeouts), the same mechanism it
   relies on for its own event parenting and emission counter;
2. the ids of the run's tasks and agents (``event.task_id`` / ``event.agent_id``), for an
   event emitted from a thread that did not inherit the context.

Events of crews not run through omium match neither and are ignored. A handler only
takes a small snapshot (:mod:`omium.adapters.crewai.payloads`) keyed by crewai's
``emission_sequence``; the run sorts and converts them on its own thread after
``crewai_event_bus.flush()``.

The same context variable quiets a run its consumer abandoned (:meth:`RunScope.abandon`):
what crewai logs on its behalf afterwards is dropped. An abandoned crew thread finishes
its LLM or tool call in flight; if the process is exiting meanwhile, crewai's next event
or flow step fails ("cannot schedule new futures after shutdown") and crewai would log
those failures with tracebacks, about a run nobody waits for any more.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Literal

from crewai.events import BaseEventListener, crewai_event_bus
from crewai.events.base_events import BaseEvent
from crewai.events.event_bus import CrewAIEventsBus
from crewai.events.types.llm_events import (
    LLMCallCompletedEvent,
    LLMCallFailedEvent,
    LLMCallStartedEvent,
)
from crewai.events.types.task_events import TaskStartedEvent
from crewai.events.types.tool_usage_events import (
    ToolUsageErrorEvent,
    ToolUsageFinishedEvent,
    ToolUsageStartedEvent,
)
from crewai.utilities.string_utils import sanitize_tool_name

from omium.adapters.crewai.payloads import (
    DELEGATION,
    LLMEnded,
    LLMStarted,
    Record,
    TaskStarted,
    ToolCalled,
    ToolStarted,
    ToolTried,
    as_text,
    jsonable,
    shown_to_agent,
)
from omium.producers.recorded import RecordedCalls


class RunScope:
    """One crew run's share of the bus: snapshots of its events, by emission sequence."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[tuple[int, int, Record]] = []
        self._arrival = itertools.count()
        self._ids: set[str] = set()
        self.closed = False
        self.abandoned = False

    def add(self, sequence: int | None, record: Record) -> None:
        """Keep ``record`` (dropped once the run was closed)."""
        with self._lock:
            if not self.closed:
                self._records.append((sequence or 0, next(self._arrival), record))

    def take(self) -> list[Record]:
        """The records kept so far, in emission order; they are handed out once."""
        with self._lock:
            records, self._records = self._records, []
        return [record for *_, record in sorted(records, key=lambda r: (r[0], r[1]))]

    def claim(self, ids: set[str]) -> None:
        """Route events naming these task or agent ids here (the fallback)."""
        with _ids_lock:
            for key in ids:
                _by_id[key] = self
            self._ids |= ids

    def abandon(self) -> None:
        """Close, and drop what crewai logs for this run from now on (see the module docs)."""
        self.abandoned = True
        self.close()

    def close(self) -> None:
        """Drop what is kept and anything that arrives later; release the ids."""
        with self._lock:
            self.closed = True
            self._records = []
        with _ids_lock:
            for key in self._ids:
                if _by_id.get(key) is self:
                    del _by_id[key]


current_scope: ContextVar[RunScope | None] = ContextVar("omium_crew_run", default=None)
_by_id: dict[str, RunScope] = {}
_ids_lock = threading.Lock()


def scope_of(event: BaseEvent) -> RunScope | None:
    """The run ``event`` belongs to (see the module docs), or None."""
    scope = current_scope.get()
    if scope is not None:
        return scope
    for key in (event.task_id, event.agent_id):
        if key is not None and (found := _by_id.get(key)) is not None:
            return found
    return None


class OmiumToolCallEvent(BaseEvent):
    """A tool call, emitted by omium's tool-call hook (fields as :class:`ToolCalled`).

    Going through the bus gives it an ``emission_sequence``, so it sorts among crewai's
    own events of the run.
    """

    type: Literal["omium_tool_call"] = "omium_tool_call"
    tool: str
    agent: str | None = None
    arguments: Any = None
    result: Any = None
    latency_ms: float = 0.0
    error: dict[str, Any] | None = None
    shown_to_agent: str | None = None


def _error_of(error: Any) -> dict[str, str]:
    kind = type(error).__name__ if isinstance(error, BaseException) else "ToolError"
    return {"type": kind, "message": str(error)}


class OmiumListener(BaseEventListener):
    """Snapshots the task, LLM-call and tool events of omium's crew runs."""

    def setup_listeners(self, crewai_event_bus: CrewAIEventsBus) -> None:
        """Register one handler per concrete event class (``on`` matches exact classes)."""
        on = crewai_event_bus.on
        on(TaskStartedEvent)(self._task_started)
        on(LLMCallStartedEvent)(self._llm_started)
        on(LLMCallCompletedEvent)(self._llm_ended)
        on(LLMCallFailedEvent)(self._llm_ended)
        on(ToolUsageStartedEvent)(self._tool_started)
        on(ToolUsageFinishedEvent)(self._tool_tried)
        on(ToolUsageErrorEvent)(self._tool_tried)
        on(OmiumToolCallEvent)(self._tool_called)

    @staticmethod
    def _task_started(source: Any, event: TaskStartedEvent) -> None:
        if (scope := scope_of(event)) is not None:
            agent = getattr(getattr(source, "agent", None), "role", None)
            task_id = str(getattr(source, "id", event.task_id))
            scope.add(event.emission_sequence, TaskStarted(task_id, agent))

    @staticmethod
    def _llm_started(source: Any, event: LLMCallStartedEvent) -> None:
        if (scope := scope_of(event)) is not None:
            record = LLMStarted(event.call_id, event.messages, event.timestamp)
            scope.add(event.emission_sequence, record)

    @staticmethod
    def _llm_ended(source: Any, event: LLMCallCompletedEvent | LLMCallFailedEvent) -> None:
        if (scope := scope_of(event)) is None:
            return
        if isinstance(event, LLMCallCompletedEvent):
            response, usage, error = event.response, event.usage, None
        else:
            response, usage, error = None, None, event.error
        record = LLMEnded(
            call_id=event.call_id,
            agent=event.agent_role,
            task_id=event.task_id,
            model=event.model or str(getattr(source, "model", "unknown")),
            provider=getattr(source, "provider", None),
            response=response,
            usage=usage,
            error=error,
            at=event.timestamp,
        )
        scope.add(event.emission_sequence, record)

    @staticmethod
    def _tool_started(source: Any, event: ToolUsageStartedEvent) -> None:
        if (scope := scope_of(event)) is not None:
            tool = sanitize_tool_name(event.tool_name)
            scope.add(event.emission_sequence, ToolStarted(tool, event.agent_role, event.tool_args))

    @staticmethod
    def _tool_tried(source: Any, event: ToolUsageFinishedEvent | ToolUsageErrorEvent) -> None:
        if (scope := scope_of(event)) is not None:
            error = _error_of(event.error) if isinstance(event, ToolUsageErrorEvent) else None
            tool = sanitize_tool_name(event.tool_name)
            scope.add(event.emission_sequence, ToolTried(tool, event.agent_role, error))

    @staticmethod
    def _tool_called(source: Any, event: OmiumToolCallEvent) -> None:
        if (scope := scope_of(event)) is not None:
            record = ToolCalled(
                event.tool,
                event.agent,
                event.arguments,
                event.result,
                event.latency_ms,
                event.error,
                event.shown_to_agent,
            )
            scope.add(event.emission_sequence, record)


class QuietWhenAbandoned(logging.Filter):
    """Drops the log records of an abandoned run (on crewai's loggers; see the module docs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record logged in the context of an abandoned run."""
        scope = current_scope.get()
        return scope is None or not scope.abandoned


_listener: OmiumListener | None = None
_listener_lock = threading.Lock()


def ensure_listener() -> OmiumListener:
    """The process's one omium listener, registered on the bus on first use.

    It also puts :class:`QuietWhenAbandoned` on crewai's loggers (those created so far:
    crewai creates one per module, at import).
    """
    global _listener
    with _listener_lock:
        if _listener is None:
            _listener = OmiumListener()
            quiet = QuietWhenAbandoned()
            for name in ["crewai", *logging.root.manager.loggerDict]:
                if name == "crewai" or name.startswith("crewai."):
                    logging.getLogger(name).addFilter(quiet)
        return _listener


def report_tool_call(source: Any, event: OmiumToolCallEvent) -> None:
    """Put ``event`` on the bus, in the run's emission order (call it on the run's thread)."""
    crewai_event_bus.emit(source, event)


def recorded_tool_answer(replay: RecordedCalls | None, ctx: Any) -> Mapping[str, Any] | None:
    """From crewai's before-tool hook ``ctx``: the recorded call that answers it, if any.

    None (re-execution off, or a delegation to a coworker, which runs and is answered by
    its own recorded calls) lets the tool run. The recorded call is taken in either case,
    so the calls after it stay in step with the recording.
    """
    if replay is None:
        return None
    agent = getattr(ctx.agent, "role", None)
    recorded = replay.take("tool", ctx.tool_name, ctx.tool_input, key=agent)
    return None if ctx.tool_name in DELEGATION else recorded


def report_tool_result(
    source: Any, ctx: Any, began: float, recorded: Mapping[str, Any] | None
) -> str | None:
    """Report a tool call from crewai's after-tool hook ``ctx``; what the agent is handed.

    crewai hands the agent ``ctx.tool_result``: the tool's output as text, plus its
    tool-format reminder on every few calls of a task; ``ctx.raw_tool_result`` is what the
    tool returned. A call answered from a recording (``recorded``) hands back the text the
    agent saw then; otherwise None (crewai's own result stands).
    """
    if recorded is not None:
        result, error = jsonable(recorded.get("result")), recorded.get("error")
        shown = recorded.get("shown_to_agent")
        shown = shown if isinstance(shown, str) else None
    else:
        result = jsonable(getattr(ctx, "raw_tool_result", ctx.tool_result))
        error, seen = None, ctx.tool_result
        shown = None if seen is None or str(seen) == as_text(result) else str(seen)
    report_tool_call(
        ctx.agent or source,
        OmiumToolCallEvent(
            tool=ctx.tool_name,
            agent=getattr(ctx.agent, "role", None),
            arguments=jsonable(ctx.tool_input),
            result=result,
            latency_ms=(time.perf_counter() - began) * 1000,
            error=error,
            shown_to_agent=shown,
        ),
    )
    return shown_to_agent(result, shown) if recorded is not None else None


def flush() -> None:
    """Wait until the bus has run every handler of the events emitted so far."""
    crewai_event_bus.flush()
