"""Analytics questions: which agent is slow, which model costs, which workflow fails.

Each question is a method of :class:`Analytics` returning rows whose fields are exactly the
JSON keys of the CLI's ``--json`` (and of ``GET /api/v1/analytics/{query}``). The SQL runs on
the analytics store (:mod:`omium.processors.analytics`); on the embedded store every question
first catches the store up with the log under the folder's lock, so answers are current
whether or not a worker runs.

Every question is scoped to one tenant. Time windows are half-open, ``since <= t < until``,
given as ISO times or as ``7d``/``12h``/``30m``/``2w`` before now (:func:`parse_time`).
The SQL of each question is in :mod:`omium.services.analytics_sql`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from omium.processors.analytics import (
    AnalyticsPlace,
    AnalyticsSink,
    AnalyticsStore,
    drop_all,
    migrate,
    open_place,
    record_batch,
)
from omium.processors.analytics.sink import Batch
from omium.producers import EventLog, Settings, open_log
from omium.schemas import InvalidQuery
from omium.schemas.topics import EVENTS
from omium.services import analytics_sql as sql

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)

_FROZEN = ConfigDict(frozen=True)


class LatencyRow(BaseModel):
    """``omium analytics latency``: step durations per agent, step or workflow."""

    model_config = _FROZEN
    key: str
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class CostRow(BaseModel):
    """``omium analytics cost``: LLM calls, tokens and USD per model, workflow, … ."""

    model_config = _FROZEN
    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class FailureRow(BaseModel):
    """``omium analytics failures``: how often a workflow (or step) fails, and with what."""

    model_config = _FROZEN
    key: str
    executions: int
    failed: int
    failure_rate: float
    top_error: str


class SlowestRow(BaseModel):
    """``omium analytics slowest``: the longest finished executions."""

    model_config = _FROZEN
    execution_id: str
    workflow: str
    status: str
    duration_ms: float
    steps: int
    cost_usd: float


class ToolRow(BaseModel):
    """``omium analytics tools``: calls, errors and latency per tool."""

    model_config = _FROZEN
    key: str
    calls: int
    errors: int
    error_rate: float
    p95_ms: float


class SqlResult(BaseModel):
    """``omium analytics sql``: the columns and rows of a read-only query."""

    model_config = _FROZEN
    columns: list[str]
    rows: list[list[Any]]


_SPAN = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, now: datetime, flag: str = "--since") -> datetime:
    """An ISO time (UTC unless it says otherwise) or a span before ``now`` (``7d``, ``12h``)."""
    span = _SPAN.match(text.strip())
    if span:
        return now - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidQuery(
            f"{flag} {text!r}: not a time", hint="use an ISO time (2026-11-30T12:00) or 7d/12h/30m"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which rows a question reads: one tenant, a time window, maybe one workflow."""

    tenant: str
    since: datetime | None = None
    until: datetime | None = None
    workflow: str | None = None

    @classmethod
    def of(
        cls,
        tenant: str,
        since: str | None = None,
        until: str | None = None,
        workflow: str | None = None,
        now: datetime | None = None,
    ) -> Scope:
        """Parse ``--since``/``--until``; a window that ends before it starts is refused."""
        now = now or datetime.now(UTC)
        start = parse_time(since, now) if since else None
        end = parse_time(until, now, "--until") if until else None
        if start is not None and end is not None and start >= end:
            raise InvalidQuery(f"--since {since} is not before --until {until}: an empty window")
        return cls(tenant, start, end, workflow)

    def params(self) -> dict[str, Any]:
        """Query parameters (an open end is the widest DateTime64 range)."""
        return {
            "tenant": self.tenant,
            "since": self.since or datetime(1970, 1, 1, tzinfo=UTC),
            "until": self.until or datetime(2299, 12, 31, tzinfo=UTC),
            "workflow": self.workflow or "",
        }

    def days(self) -> dict[str, datetime]:
        """The whole days (UTC) inside the window: ``day_from <= day < day_to`` (maybe none)."""
        # in UTC: a day of a +05:30 window is not one of the rollup's days
        since, until = (self.params()[k].astimezone(UTC) for k in ("since", "until"))
        first = since.replace(hour=0, minute=0, second=0, microsecond=0)
        if first < since:
            first += timedelta(days=1)
        last = min(until.replace(hour=0, minute=0, second=0, microsecond=0), _LAST_DAY)
        return {"day_from": first, "day_to": last}


#: the last day a ``DateTime`` holds (the rollup's days); later steps are read from ``steps``
_LAST_DAY = datetime(2106, 1, 1, tzinfo=UTC)


def _choice(by: str, allowed: dict[str, str]) -> str:
    if by not in allowed:
        raise InvalidQuery(f"--by {by!r}: not a key", hint=f"use one of {', '.join(allowed)}")
    return allowed[by]


class Analytics:
    """The analytics questions over one log and one store (see the module docs)."""

    def __init__(self, log: EventLog, place: AnalyticsPlace) -> None:
        self.log = log
        self.place = place

    async def ask(self, question: Callable[[AnalyticsStore], T]) -> T:
        """``question`` answered in one session of the store (caught up first, embedded)."""
        async with self.place.session() as store:
            if self.place.embedded:  # a server is fed by its own sink; never write from here
                await asyncio.to_thread(migrate, store)
                await AnalyticsSink(self.log, self.place).catch_up(store)
            return await asyncio.to_thread(question, store)

    async def _rows(self, model: type[R], text: str, params: dict[str, Any]) -> list[R]:
        """The query's rows as ``model``s: the SQL names its columns as the model's fields."""

        def ask(store: AnalyticsStore) -> list[R]:
            names, rows = store.query(text, params)
            fields = model.model_fields
            return [
                model(**{n: v for n, v in zip(names, row, strict=True) if n in fields})
                for row in rows
            ]

        return await self.ask(ask)

    async def latency(self, by: str, scope: Scope) -> list[LatencyRow]:
        """Step durations (p50/p95/p99/max) per ``agent``, ``step`` or ``workflow``.

        Counts and maxima are exact; the quantiles are t-digest estimates from the daily
        rollup (see docs/analytics.md for the tolerance).
        """
        text = sql.LATENCY_ROLLUP.replace("{key}", _choice(by, sql.LATENCY_KEYS))
        return await self._rows(LatencyRow, text, {**scope.params(), **scope.days()})

    async def cost(self, by: str, scope: Scope) -> list[CostRow]:
        """LLM calls, tokens and cost per model, workflow, execution, day or agent.

        Read from the daily rollup (``--by execution``: from ``llm_calls``); counts and
        tokens are exact, ``cost_usd`` a sum of the same floats in another order.
        """
        key = _choice(by, sql.COST_KEYS)
        if by not in sql.COST_ROLLUP_KEYS:
            return await self._rows(CostRow, sql.COST.replace("{key}", key), scope.params())
        text = sql.COST_ROLLUP.replace("{key}", sql.COST_ROLLUP_KEYS[by])
        return await self._rows(CostRow, text, {**scope.params(), **scope.days()})

    async def failures(self, by: str, scope: Scope) -> list[FailureRow]:
        """Executions, failures, rate and most common error per ``workflow`` or ``step``.

        Read from the daily rollups; every count is exact.
        """
        text = sql.FAILURES_ROLLUP[_choice(by, {"workflow": "workflow", "step": "step"})]
        return await self._rows(FailureRow, text, {**scope.params(), **scope.days()})

    async def slowest(self, scope: Scope, limit: int = 10) -> list[SlowestRow]:
        """The ``limit`` finished executions that took longest."""
        if limit < 1:
            raise InvalidQuery(f"--limit {limit}: must be at least 1")
        return await self._rows(SlowestRow, sql.SLOWEST, {**scope.params(), "limit": limit})

    async def tools(self, scope: Scope) -> list[ToolRow]:
        """Calls, errors, error rate and p95 latency per tool."""
        return await self._rows(ToolRow, sql.TOOLS, scope.params())

    async def sql(self, text: str, tenant: str | None = None) -> SqlResult:
        """A read-only query of the caller's own (``SELECT``, ``WITH``, ``EXPLAIN`` …).

        With ``tenant``, every omium table reads that tenant's rows only (the engine's
        ``additional_table_filters``, which ``readonly=1`` forbids the query to change).
        """
        statement = sql.read_only(text)
        # readonly=1 too: on chDB it then holds for the rest of the session, which ends here
        settings: dict[str, Any] = {"readonly": 1}
        if tenant is not None:
            settings["additional_table_filters"] = sql.tenant_filters(tenant)
        names, rows = await self.ask(lambda s: s.query(statement, settings=settings))
        return SqlResult(columns=names, rows=[list(r) for r in rows])

    async def migrate(self) -> list[str]:
        """Apply the migrations the store lacks; returns their names."""
        async with self.place.session() as store:
            return [m.name for m in await asyncio.to_thread(migrate, store)]

    async def rebuild(self, from_offset: int = 0) -> int:
        """Drop the tables, make them again and replay the log from ``from_offset`` into them.

        Returns the number of records written. A rebuild prices LLM calls anew.
        """
        if from_offset < 0:
            raise InvalidQuery(f"--from-offset {from_offset}: must be 0 or more")
        sink = AnalyticsSink(self.log, self.place)
        async with self.place.session() as store:
            await asyncio.to_thread(drop_all, store)
            await asyncio.to_thread(migrate, store)
            if from_offset:  # every partition starts at from_offset: a committed batch 0
                parts = sorted(await self.log.end_offsets(EVENTS.name))
                base = Batch(0, tuple((p, from_offset, from_offset) for p in parts))
                await asyncio.to_thread(record_batch, store, sink.consumer, base, "committed")
            return await sink.catch_up(store)

    async def close(self) -> None:
        """Close the log and any server connection."""
        self.place.close()
        await self.log.close()


def open_at(log_url: str | None, analytics_url: str | None = None) -> Analytics:
    """The analytics use cases over the log ``log_url`` (default: ``OMIUM_LOG_URL``)."""
    settings = Settings.load()
    return open_analytics(open_log(log_url, settings), settings, analytics_url)


def open_analytics(
    log: EventLog, settings: Settings | None = None, url: str | None = None
) -> Analytics:
    """The analytics use cases over ``log`` and the store of ``OMIUM_ANALYTICS_URL``."""
    return Analytics(log, open_place(settings, url))
