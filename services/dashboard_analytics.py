"""The dashboard's analytics page: every number it shows, from one session on the store.

The page asks what ``omium analytics`` answers (latency per agent, cost per model and per
agent, failures per workflow: the same SQL and row models, :mod:`.analytics_sql`) and two
series over time: step latency (p50, p95) and LLM cost per time bucket. All of them are
asked in ONE session of the analytics place (:class:`~omium.processors.analytics.
AnalyticsPlace`): on the embedded store (chDB) that is one turn of the folder's lock and one
catch-up with the log per page, released before the page is rendered, so a worker's sink
or an ``omium analytics`` command waits for at most one request.

Scoped like ``GET /api/v1/analytics/…``: one tenant (the caller's), a time window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from omium.processors.analytics import AnalyticsStore
from omium.services import analytics_sql as sql
from omium.services.analytics import Analytics, CostRow, FailureRow, LatencyRow, Scope

R = TypeVar("R", bound=BaseModel)

#: the windows the page offers: name -> (length, the width of a chart's bucket)
WINDOWS = {
    "1h": (timedelta(hours=1), timedelta(minutes=2)),
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=6)),
    "30d": (timedelta(days=30), timedelta(days=1)),
}
#: rows of each table the page shows
TOP = 10

_WHERE = (
    "tenant_id = {{tenant:String}} AND {t} >= {{since:DateTime64(3, 'UTC')}} "
    "AND {t} < {{until:DateTime64(3, 'UTC')}}"
)
LATENCY_SERIES = (
    "SELECT toStartOfInterval(ended_at, toIntervalSecond({bucket:UInt32})) AS at, "
    "count() AS steps, quantilesExactInclusive(0.5, 0.95)(duration_ms) AS q, "
    "q[1] AS p50_ms, q[2] AS p95_ms FROM steps WHERE " + _WHERE.format(t="ended_at") + " "
    "GROUP BY at ORDER BY at"
)
COST_SERIES = (
    "SELECT toStartOfInterval(ts, toIntervalSecond({bucket:UInt32})) AS at, count() AS calls, "
    "sum(input_tokens + output_tokens) AS tokens, sum(cost_usd) AS cost_usd "
    "FROM llm_calls WHERE " + _WHERE.format(t="ts") + " GROUP BY at ORDER BY at"
)

_FROZEN = ConfigDict(frozen=True)


class LatencyPoint(BaseModel):
    """Step durations ending in one time bucket."""

    model_config = _FROZEN
    at: datetime
    steps: int
    p50_ms: float
    p95_ms: float


class CostPoint(BaseModel):
    """LLM calls made in one time bucket."""

    model_config = _FROZEN
    at: datetime
    calls: int
    tokens: int
    cost_usd: float


class Overview(BaseModel):
    """The analytics page: a tenant's window, two series and four tables."""

    model_config = _FROZEN
    tenant: str
    since: datetime
    until: datetime
    bucket_s: int
    latency: list[LatencyPoint]
    cost: list[CostPoint]
    agents: list[LatencyRow]
    agent_cost: list[CostRow]
    models: list[CostRow]
    failing: list[FailureRow]


def window(name: str, now: datetime | None = None) -> tuple[datetime, datetime, timedelta]:
    """``(since, until, bucket)`` of a window of :data:`WINDOWS` ending ``now``."""
    length, bucket = WINDOWS[name]
    until = now or datetime.now(UTC)
    return until - length, until, bucket


async def overview(analytics: Analytics, tenant: str, name: str) -> Overview:
    """The page's numbers for ``tenant`` over the window ``name`` (see the module docs).

    Raises:
        AnalyticsUnavailable: the store cannot be opened or answer.
    """
    since, until, bucket = window(name)
    scope = Scope(tenant, since, until)
    # the days are for the daily rollups (cost, failures), read like `omium analytics`
    params = {**scope.params(), **scope.days(), "bucket": int(bucket.total_seconds())}
    return await analytics.ask(lambda store: _ask(store, scope, params))


def _ask(store: AnalyticsStore, scope: Scope, params: dict[str, Any]) -> Overview:
    assert scope.since is not None and scope.until is not None

    def cost(by: str) -> list[CostRow]:
        text = sql.COST_ROLLUP.replace("{key}", sql.COST_ROLLUP_KEYS[by])
        return _rows(store, CostRow, text, params)[:TOP]

    latency = sql.LATENCY.replace("{key}", sql.LATENCY_KEYS["agent"])
    failures = _rows(store, FailureRow, sql.FAILURES_ROLLUP["workflow"], params)
    return Overview(
        tenant=scope.tenant,
        since=scope.since,
        until=scope.until,
        bucket_s=params["bucket"],
        latency=_rows(store, LatencyPoint, LATENCY_SERIES, params),
        cost=_rows(store, CostPoint, COST_SERIES, params),
        agents=_rows(store, LatencyRow, latency, params)[:TOP],
        agent_cost=cost("agent"),
        models=cost("model"),
        failing=[r for r in failures if r.failed][:TOP],  # by failure rate, highest first
    )


def _rows(store: AnalyticsStore, model: type[R], text: str, params: dict[str, Any]) -> list[R]:
    """The query's rows as ``model``s (the SQL names its columns as the model's fields)."""
    names, rows = store.query(text, params)
    fields = model.model_fields
    return [model(**{n: v for n, v in zip(names, row, strict=True) if n in fields}) for row in rows]
