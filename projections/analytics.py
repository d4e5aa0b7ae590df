"""Rows for the analytics tables, built from events. Pure: no IO, no clock.

:func:`analytics_rows` turns a batch of ``(event, position)`` pairs into column-oriented rows
for ``events``, ``steps``, ``llm_calls`` and ``tool_calls`` (one row per event of the kind),
and into the new :class:`ExecutionRow` of every execution the batch touches, folded over the
row the store held before (``prior``). The sink (:mod:`omium.processors.analytics`) writes
them; tests and the benchmark call it directly. The column names and their order are the
tables' in ``infra/clickhouse/``.

Pricing is passed in (``price``), so a rebuild after a price change prices calls anew and
this module needs nothing below it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from omium.schemas import (
    Event,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionPaused,
    ExecutionResumed,
    ExecutionRolledBack,
    ExecutionStarted,
    ExecutionSubmitted,
    ExecutionTimedOut,
    LLMCall,
    StepCompleted,
    StepFailed,
    ToolCall,
)

#: a log position: (topic, partition, offset)
Pos = tuple[str, int, int]
#: (model, input tokens, output tokens) -> USD, or None when the model has no price
Pricer = Callable[[str, int, int], float | None]

EVENT_COLUMNS = (
    "tenant_id",
    "execution_id",
    "attempt",
    "seq",
    "type",
    "ts",
    "event_id",
    "causation_id",
    "topic",
    "partition",
    "offset",
    "payload",
)
STEP_COLUMNS = (
    "tenant_id",
    "workflow",
    "version",
    "execution_id",
    "attempt",
    "step",
    "agent",
    "framework",
    "status",
    "error_type",
    "started_at",
    "ended_at",
    "duration_ms",
    "event_id",
    "partition",
    "offset",
    "first_run",
    "first_failure",
)
LLM_COLUMNS = (
    "tenant_id",
    "workflow",
    "execution_id",
    "attempt",
    "model",
    "provider",
    "agent",
    "step",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "error_type",
    "ts",
    "event_id",
    "partition",
    "offset",
)
TOOL_COLUMNS = (
    "tenant_id",
    "workflow",
    "execution_id",
    "attempt",
    "tool",
    "agent",
    "step",
    "latency_ms",
    "error_type",
    "ts",
    "event_id",
    "partition",
    "offset",
)

#: lifecycle event type -> the status it leaves the execution in
_STATUS: dict[type[Event], str] = {
    ExecutionSubmitted: "submitted",
    ExecutionStarted: "running",
    ExecutionPaused: "paused",
    ExecutionResumed: "running",
    ExecutionRolledBack: "running",
    ExecutionCancelled: "cancelled",
    ExecutionCompleted: "completed",
    ExecutionFailed: "failed",
    ExecutionTimedOut: "timed_out",
}
#: bits of ``ExecutionRow.step_runs``
RAN, FAILED = 1, 2

#: statuses that end an execution
FINISHED = frozenset({"cancelled", "completed", "failed", "timed_out"})


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    """One row of ``executions``: the latest state of one execution (columns in order)."""

    tenant_id: str
    execution_id: str
    workflow: str = ""
    version: str = ""
    framework: str = ""
    status: str = "submitted"
    attempt: int = 1
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    steps: int = 0
    failed_steps: int = 0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error_type: str = ""
    failed_step: str = ""
    step_agents: Mapping[str, str] = field(default_factory=dict)
    #: step -> RAN | FAILED: which steps this execution ran, and failed, so far
    step_runs: Mapping[str, int] = field(default_factory=dict)
    last_offset: int = 0


EXECUTION_COLUMNS = tuple(f.name for f in fields(ExecutionRow))


@dataclass
class AnalyticsRows:
    """A batch's rows: per table, its columns as lists (insert column-oriented)."""

    events: dict[str, list[Any]] = field(default_factory=lambda: _empty(EVENT_COLUMNS))
    steps: dict[str, list[Any]] = field(default_factory=lambda: _empty(STEP_COLUMNS))
    llm_calls: dict[str, list[Any]] = field(default_factory=lambda: _empty(LLM_COLUMNS))
    tool_calls: dict[str, list[Any]] = field(default_factory=lambda: _empty(TOOL_COLUMNS))
    executions: dict[str, ExecutionRow] = field(default_factory=dict)

    def tables(self) -> dict[str, dict[str, list[Any]]]:
        """Every table's columns, ``executions`` included, in the order they are written."""
        runs = list(self.executions.values())
        return {
            "events": self.events,
            "steps": self.steps,
            "llm_calls": self.llm_calls,
            "tool_calls": self.tool_calls,
            "executions": {c: [getattr(r, c) for r in runs] for c in EXECUTION_COLUMNS},
        }


def _empty(columns: tuple[str, ...]) -> dict[str, list[Any]]:
    return {c: [] for c in columns}


def _add(table: dict[str, list[Any]], values: dict[str, Any]) -> None:
    for name, column in table.items():
        column.append(values[name])


def analytics_rows(
    batch: Iterable[tuple[Event, Pos]],
    prior: Mapping[str, ExecutionRow],
    price: Pricer,
) -> AnalyticsRows:
    """The rows ``batch`` adds to each table (see the module docs).

    Args:
        batch: events with the position each was read from, in log order per partition.
        prior: the stored row of executions the batch touches (missing: new executions);
            left as it is.
        price: prices an ``llm.call`` that carries no ``cost_usd``.
    """
    out = AnalyticsRows()
    # each execution's row as a dict the batch updates in place, frozen at the end: a
    # dataclasses.replace per event cost more than the rest of the row building together
    runs: dict[str, dict[str, Any]] = {}
    events = out.events
    for event, (topic, partition, offset) in batch:
        run = runs.get(event.execution_id)
        if run is None:
            run = runs[event.execution_id] = _working(event, prior.get(event.execution_id))
        events["tenant_id"].append(event.tenant_id)
        events["execution_id"].append(event.execution_id)
        events["attempt"].append(event.attempt)
        events["seq"].append(event.seq)
        events["type"].append(event.type)
        events["ts"].append(event.ts)
        events["event_id"].append(event.event_id)
        events["causation_id"].append(event.causation_id)
        events["topic"].append(topic)
        events["partition"].append(partition)
        events["offset"].append(offset)
        events["payload"].append(event.payload.model_dump_json())
        _derive(event, run, out, price, partition, offset)
        run["last_offset"] = offset
    out.executions = {key: ExecutionRow(**run) for key, run in runs.items()}
    return out


def _working(event: Event, stored: ExecutionRow | None) -> dict[str, Any]:
    base = stored or ExecutionRow(tenant_id=event.tenant_id, execution_id=event.execution_id)
    run = {name: getattr(base, name) for name in EXECUTION_COLUMNS}
    run["step_agents"] = dict(base.step_agents)  # the stored row stays as it was
    run["step_runs"] = dict(base.step_runs)
    return run


def _derive(
    event: Event,
    run: dict[str, Any],
    out: AnalyticsRows,
    price: Pricer,
    partition: int,
    offset: int,
) -> None:
    """Add ``event``'s row to its table and update the execution's row ``run``."""
    common = {
        "tenant_id": event.tenant_id,
        "workflow": run["workflow"],
        "execution_id": event.execution_id,
        "attempt": event.attempt,
        "partition": partition,
        "offset": offset,
        "event_id": event.event_id,
    }
    if isinstance(event, StepCompleted | StepFailed):
        p = event.payload
        error = event.payload.error.type if isinstance(event, StepFailed) else ""
        # the execution's first run (and first failure) of this step: what `failures --by
        # step` sums instead of counting distinct executions when asked
        seen = run["step_runs"].get(p.step, 0)
        run["step_runs"][p.step] = seen | RAN | (FAILED if error else 0)
        common |= {
            "version": run["version"],
            "step": p.step,
            "agent": run["step_agents"].get(p.step, ""),
            "framework": run["framework"],
            "status": "failed" if error else "completed",
            "error_type": error,
            "started_at": event.ts - timedelta(milliseconds=p.duration_ms),
            "ended_at": event.ts,
            "duration_ms": p.duration_ms,
            "first_run": 0 if seen & RAN else 1,
            "first_failure": 1 if error and not seen & FAILED else 0,
        }
        _add(out.steps, common)
        run["steps"] += 1
        if error:
            run["failed_steps"] += 1
            run["failed_step"] = p.step
            run["error_type"] = error
    elif isinstance(event, LLMCall):
        c = event.payload
        cost = c.cost_usd
        if cost is None:
            cost = price(c.model, c.input_tokens, c.output_tokens)
        common |= {
            "model": c.model,
            "provider": c.provider or "",
            "agent": c.agent or "",
            "step": c.step or "",
            "input_tokens": c.input_tokens,
            "output_tokens": c.output_tokens,
            "cost_usd": cost or 0.0,
            "latency_ms": c.latency_ms,
            "error_type": c.error.type if c.error else "",
            "ts": event.ts,
        }
        _add(out.llm_calls, common)
        _seen_agent(run, c.step, c.agent)
        run["llm_calls"] += 1
        run["input_tokens"] += c.input_tokens
        run["output_tokens"] += c.output_tokens
        run["cost_usd"] += cost or 0.0
    elif isinstance(event, ToolCall):
        t = event.payload
        common |= {
            "tool": t.tool,
            "agent": t.agent or "",
            "step": t.step or "",
            "latency_ms": t.latency_ms,
            "error_type": t.error.type if t.error else "",
            "ts": event.ts,
        }
        _add(out.tool_calls, common)
        _seen_agent(run, t.step, t.agent)
    else:
        _lifecycle(event, run)


def _seen_agent(run: dict[str, Any], step: str | None, agent: str | None) -> None:
    """Remember which agent worked on ``step``: its ``steps`` row names that agent."""
    if step and agent:
        run["step_agents"][step] = agent


def _lifecycle(event: Event, run: dict[str, Any]) -> None:
    status = _STATUS.get(type(event))
    if status is None:
        return
    run["status"] = status
    run["attempt"] = max(run["attempt"], event.attempt)
    if isinstance(event, ExecutionSubmitted | ExecutionStarted):
        run["workflow"] = event.payload.workflow
    if isinstance(event, ExecutionSubmitted):
        run["submitted_at"] = run["submitted_at"] or event.ts
    if isinstance(event, ExecutionStarted):
        run["started_at"] = run["started_at"] or event.ts
        run["ended_at"] = None  # a run resumed after a crash is running again
    if isinstance(event, ExecutionRolledBack):
        run["ended_at"] = None
    if status in FINISHED:
        run["ended_at"] = event.ts
    if isinstance(event, ExecutionFailed):
        run["error_type"] = event.payload.error.type
        run["failed_step"] = event.payload.step or run["failed_step"]
    if isinstance(event, ExecutionTimedOut):
        run["error_type"] = "TimedOut"
