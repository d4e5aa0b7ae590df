"""What the web dashboard asks of the application layer beyond the API's use cases.

The dashboard (:mod:`omium.gateway.dashboard`) renders the same response models as the
JSON API; these are the few shapes only a page needs: counts by status for the list's
header, an execution with the LLM calls, tool calls and handoffs its timeline marks, one
checkpoint's state, the registered workflows with their default inputs for the run form,
the newest alerts, and the analytics page's numbers (:mod:`.dashboard_analytics`).
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from omium.processors.listing import Listing
from omium.processors.view_store import SqliteViews
from omium.projections import ExecutionView
from omium.schemas import AgentHandoff, Event, InvalidEvent, LLMCall, NotFound, ToolCall
from omium.schemas.topics import EVENTS
from omium.services import history, registry, runs
from omium.services.alerts import AlertFilter, AlertRow, alerts
from omium.services.context import Omium
from omium.services.history_models import CheckpointOut
from omium.services.models import CallOut, ExecutionOut

#: without a count index (the Kafka changelog), the counts are of the newest executions only
COUNT_WINDOW = 500
#: … and taken again at most this often (s): the list refreshes every 2 s
COUNTS_TTL = 10.0
#: the alerts the page lists, newest first
ALERTS_SHOWN = 200
#: executions whose calls :class:`CallCache` keeps (the least recently shown go first)
CALLS_KEPT = 32


class Counts(BaseModel):
    """How many executions the caller sees, by status (every status, zero included)."""

    model_config = ConfigDict(frozen=True)

    by_status: dict[str, int]
    #: counted over this many newest executions only (None: every one)
    newest: int | None = None


@runtime_checkable
class _Indexed(Protocol):
    """A reader over the embedded view store, whose index counts by status."""

    @property
    def store(self) -> SqliteViews:
        """The view store it reads."""
        ...


class CountCache:
    """Counts read without an index, kept per tenant for ``ttl`` seconds."""

    def __init__(
        self, ttl: float = COUNTS_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.clock = ttl, clock
        self._kept: dict[str | None, tuple[float, Counts]] = {}

    async def counts(self, app: Omium) -> Counts:
        """:func:`counts`, or the same answer given less than ``ttl`` s ago."""
        tenant = app.caller.tenant if app.caller is not None else None
        kept = self._kept.get(tenant)
        if kept is not None and self.clock() - kept[0] < self.ttl:
            return kept[1]
        found = await counts(app)
        if found.newest is not None:  # an index read is cheaper than remembering it
            self._kept[tenant] = (self.clock(), found)
        return found


async def counts(app: Omium) -> Counts:
    """The caller's executions by status.

    On the embedded log an index of the view store counts them (a read of a few rows,
    however many executions there are); elsewhere the newest :data:`COUNT_WINDOW` are.
    The list page reads its rows just before, which caught the store up.
    """
    tenant = app.caller.tenant if app.caller is not None else None
    reader = app.reader
    newest: int | None = None
    if isinstance(reader, _Indexed):
        found = reader.store.counts(tenant)
    else:
        views = await reader.newest(Listing(COUNT_WINDOW + 1, tenant=tenant))
        if len(views) > COUNT_WINDOW:
            views, newest = views[:COUNT_WINDOW], COUNT_WINDOW
        found = dict(Counter(v.status for v in views))
    by_status = {status: found.get(status, 0) for status in sorted(runs.STATUSES)}
    return Counts(by_status=by_status, newest=newest)


async def execution(
    app: Omium, execution_id: str, cache: CallCache | None = None
) -> tuple[ExecutionOut, list[CallOut]]:
    """One execution (``omium executions show``) and the calls and handoffs it recorded.

    Raises:
        NotFound: no such execution (for this caller).
    """
    view = await runs.view(app, execution_id)
    found = await (cache.calls(app, view) if cache is not None else calls(app, view))
    return ExecutionOut.from_view(view), found


#: what the records of a call or a handoff contain (a cheap test before decoding one)
_MARKED = (b"llm.call", b"tool.call", b"agent.handoff")


async def calls(app: Omium, view: ExecutionView) -> list[CallOut]:
    """The LLM calls, tool calls and handoffs of ``view``'s execution, in log order.

    Read from the log between the execution's first and newest folded events (its own
    span: indexed on the embedded log, bounded on Kafka), so they agree with the view.
    """
    span = _span(view)
    if span is None:
        return []
    return [call for _, call in await _read(app, view.execution_id, *span)]


def _span(view: ExecutionView) -> tuple[int, int | None] | None:
    """The offsets of ``view``'s events, ``[first, end)`` (None: no event folded yet)."""
    first, last = view.first_position, view.last_position
    if first is None or first[0] != EVENTS.name:
        return None
    return first[2], (last[2] + 1 if last is not None and last[0] == EVENTS.name else None)


async def _read(
    app: Omium, execution_id: str, start: int, end: int | None
) -> list[tuple[int, CallOut]]:
    """``(offset, call)`` of the calls and handoffs recorded in ``[start, end)``.

    Only the records whose bytes name one of those types are decoded.
    """
    found = []
    for record in await app.log.read_execution(execution_id, start=start, end=end):
        if not any(marked in record.value for marked in _MARKED):
            continue
        try:
            event = record.event()
        except InvalidEvent:
            continue
        call = call_of(event)
        if call is not None:
            found.append((record.position.offset, call))
    return found


class CallCache:
    """The calls of the executions shown lately, read from the log once each.

    The log is append-only, so what was read of an execution stays true: a page shown
    again (or refreshed while the run goes on) reads only the records after the last one
    read, not the execution's whole span again (2,000 calls decode in ~0.2 s).
    """

    def __init__(self, kept: int = CALLS_KEPT) -> None:
        self.kept = kept
        #: execution id -> (first offset, next offset to read, (offset, call) in order)
        self._known: OrderedDict[str, tuple[int, int, list[tuple[int, CallOut]]]] = OrderedDict()

    async def calls(self, app: Omium, view: ExecutionView) -> list[CallOut]:
        """:func:`calls` of ``view``, reading only what this cache has not read yet."""
        span = _span(view)
        if span is None:
            return []
        first, end = span
        if end is None:  # no newest position to read up to: read it all, keep nothing
            return [call for _, call in await _read(app, view.execution_id, first, None)]
        known = self._known.get(view.execution_id)
        if known is None or known[0] != first:
            known = (first, first, [])
        _, read_to, found = known
        if end > read_to:
            found = found + await _read(app, view.execution_id, read_to, end)
            read_to = end
        self._known[view.execution_id] = (first, read_to, found)
        self._known.move_to_end(view.execution_id)
        while len(self._known) > self.kept:
            self._known.popitem(last=False)
        return [call for offset, call in found if offset < end]  # a view older than the cache


def call_of(event: Event) -> CallOut | None:
    """The timeline mark of an ``llm.call``, ``tool.call`` or ``agent.handoff`` (else None)."""
    common: dict[str, Any] = {"attempt": event.attempt, "seq": event.seq, "ts": event.ts}
    match event:
        case LLMCall(payload=p):
            return CallOut(
                kind="llm",
                name=p.model,
                step=p.step,
                agent=p.agent,
                duration_ms=p.latency_ms,
                input_tokens=p.input_tokens,
                output_tokens=p.output_tokens,
                cost_usd=p.cost_usd,
                error=f"{p.error.type}: {p.error.message}" if p.error else None,
                **common,
            )
        case ToolCall(payload=p):
            return CallOut(
                kind="tool",
                name=p.tool,
                step=p.step,
                agent=p.agent,
                duration_ms=p.latency_ms,
                error=f"{p.error.type}: {p.error.message}" if p.error else None,
                **common,
            )
        case AgentHandoff(payload=p):
            return CallOut(
                kind="handoff",
                name=f"{p.from_agent} → {p.to_agent}",
                from_agent=p.from_agent,
                to_agent=p.to_agent,
                reason=p.reason,
                **common,
            )
    return None


async def checkpoint(app: Omium, execution_id: str, checkpoint_id: str) -> CheckpointOut:
    """One checkpoint of ``execution_id``, with its state.

    Raises:
        NotFound: no such execution (for this caller), or no such checkpoint in it.
    """
    for found in await history.checkpoints(app, execution_id):
        if found.checkpoint_id == checkpoint_id:
            return found
    raise NotFound(
        f"no checkpoint {checkpoint_id!r} in execution {execution_id}",
        hint=f"list them with `omium checkpoints {execution_id}`",
    )


async def run_forms(app: Omium) -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, current version, default inputs)`` of every registered workflow, by name."""
    forms = []
    for name, found in sorted((await registry.versions(app)).items()):
        current = found[-1]
        inputs = current.spec.get("inputs") or {}
        forms.append((name, current.version, dict(inputs) if isinstance(inputs, dict) else {}))
    return forms


async def recent_alerts(app: Omium, limit: int = ALERTS_SHOWN) -> list[AlertRow]:
    """The caller's tenant's newest ``limit`` alerts, newest first (``GET /alerts``'s rows)."""
    rows = await alerts(app.log, AlertFilter(tenant_id=app.tenant))
    return rows[::-1][:limit]
