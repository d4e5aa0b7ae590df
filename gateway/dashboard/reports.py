"""The Alerts and Analytics pages: what the rules raised, and the numbers over time.

- ``/alerts``: the session tenant's alerts, newest first (the rows of ``GET /api/v1/alerts``),
  refreshed like the executions list from ``/ui/alerts``.
- ``/analytics``: latency and cost over a window as server-rendered SVG charts, and tables
  per agent, per model and of the workflows that fail most; scoped to the session's
  tenant exactly as ``GET /api/v1/analytics/…`` (the same store, the same SQL). One
  session on the analytics store per page (:mod:`omium.services.dashboard_analytics`),
  never refreshed by itself: on chDB each look takes the folder's lock for one request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from omium.gateway.analytics import get_analytics
from omium.gateway.dashboard.charts import Column, columns
from omium.gateway.dashboard.render import page
from omium.gateway.dashboard.session import SessionDep
from omium.schemas import OmiumError
from omium.services import dashboard
from omium.services.analytics import CostRow, LatencyRow
from omium.services.dashboard_analytics import WINDOWS, Overview, overview

router = APIRouter(include_in_schema=False)

Window = Annotated[str, Query(pattern="^(" + "|".join(WINDOWS) + ")$")]


@router.get("/alerts")
async def alerts(request: Request, session: SessionDep) -> Response:
    """The tenant's alerts, newest first, live."""
    rows = await dashboard.recent_alerts(session.omium)
    return page(request, session, "alerts.html", {"alerts": rows})


@router.get("/ui/alerts")
async def alert_rows(request: Request, session: SessionDep) -> Response:
    """The alerts table, for the alerts page to refresh itself with."""
    rows = await dashboard.recent_alerts(session.omium)
    return page(request, session, "_alerts.html", {"alerts": rows})


@router.get("/analytics")
async def analytics(request: Request, session: SessionDep, window: Window = "24h") -> Response:
    """Latency and cost over ``window``, per agent and model, the most failing workflows."""
    context: dict[str, object] = {"window": window, "windows": list(WINDOWS), "error": None}
    try:
        found = await overview(get_analytics(request, session.omium), session.omium.tenant, window)
    except OmiumError as exc:  # no analytics store here: the rest of the dashboard works
        context["error"] = str(exc)
        return page(request, session, "analytics.html", context)
    context.update(found=found, agents=per_agent(found), **charts(found))
    return page(request, session, "analytics.html", context)


def charts(found: Overview) -> dict[str, object]:
    """The page's two charts: step latency (p95 behind p50) and LLM cost per bucket."""
    bucket = timedelta(seconds=found.bucket_s)
    every = _every(bucket)
    latency = [
        Column(
            p.at,
            (p.p95_ms, p.p50_ms),
            f"{p.at:%Y-%m-%d %H:%M} UTC, {every}: {p.steps:,} steps, "
            f"p50 {p.p50_ms:,.0f} ms, p95 {p.p95_ms:,.0f} ms",
        )
        for p in found.latency
    ]
    cost = [
        Column(
            p.at,
            (p.cost_usd,),
            f"{p.at:%Y-%m-%d %H:%M} UTC, {every}: {p.calls:,} LLM calls, "
            f"{p.tokens:,} tokens, ${p.cost_usd:.4f}",
        )
        for p in found.cost
    ]
    return {
        "every": every,
        "latency_chart": columns(
            latency,
            found.since,
            found.until,
            bucket,
            f"Step latency per {every}, p95 and p50",
            lambda ms: f"{ms:,.0f} ms",
        ),
        "cost_chart": columns(
            cost, found.since, found.until, bucket, f"LLM cost per {every}", _usd
        ),
    }


def per_agent(found: Overview) -> list[tuple[str, LatencyRow | None, CostRow | None]]:
    """The latency and the LLM cost of each agent, side by side (either may be missing)."""
    cost = {c.key: c for c in found.agent_cost}
    rows: list[tuple[str, LatencyRow | None, CostRow | None]] = [
        (r.key, r, cost.pop(r.key, None)) for r in found.agents
    ]
    return rows + [(key, None, c) for key, c in cost.items()]


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.4g}"


def _every(bucket: timedelta) -> str:
    minutes = int(bucket.total_seconds() // 60)
    if minutes % 1440 == 0:
        return "day" if minutes == 1440 else f"{minutes // 1440} days"
    if minutes % 60 == 0:
        return "hour" if minutes == 60 else f"{minutes // 60} hours"
    return f"{minutes} minutes"
