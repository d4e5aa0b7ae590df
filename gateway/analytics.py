"""``/api/v1/analytics/{query}``: the ``omium analytics`` questions over HTTP.

HTTP mapping only: each route calls one question of :class:`~omium.services.analytics.
Analytics` and returns its row models, the same JSON as ``omium analytics … --json``. Every
question reads one tenant: the caller's own; an admin key (or the keyless loopback gateway)
may name another with ``tenant=``. Any role may ask (viewer included).

The analytics store opens on the first question, not with the app: a gateway whose
machine has no ClickHouse client serves every other route. On the embedded store (chDB)
each question is a session that catches the store up with the log first, taking turns with
a worker's sink on the folder's lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from omium.gateway.deps import OmiumDep, needs
from omium.gateway.errors import RESPONSES, Denied
from omium.services import Omium
from omium.services.analytics import (
    Analytics,
    CostRow,
    FailureRow,
    LatencyRow,
    Scope,
    SlowestRow,
    SqlResult,
    ToolRow,
    open_analytics,
)
from omium.services.keys import MANAGE


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # runs inside the app's lifespan (FastAPI nests a router's), after the log is open
    app.state.analytics = None
    try:
        yield
    finally:
        analytics: Analytics | None = app.state.analytics
        if analytics is not None:
            analytics.place.close()  # the log is the app's: closed by its own lifespan


router = APIRouter(
    prefix="/api/v1/analytics", tags=["analytics"], responses=RESPONSES, lifespan=_lifespan
)


def get_analytics(request: Request, omium: OmiumDep) -> Analytics:
    """The questions over the app's log and ``OMIUM_ANALYTICS_URL``, opened on first use."""
    analytics: Analytics | None = request.app.state.analytics
    if analytics is None:
        analytics = open_analytics(omium.log, omium.settings)
        request.app.state.analytics = analytics
    return analytics


AnalyticsDep = Annotated[Analytics, Depends(get_analytics)]

Since = Annotated[
    str | None, Query(max_length=64, description="From this time: ISO 8601, or 7d/12h/30m ago.")
]
Until = Annotated[
    str | None, Query(max_length=64, description="Before this time: ISO 8601, or 7d/12h/30m ago.")
]
Workflow = Annotated[str | None, Query(max_length=200, description="Only this workflow.")]
Tenant = Annotated[
    str | None,
    Query(max_length=200, description="Another tenant than the key's (admin keys only)."),
]


def tenant_of(omium: Omium, asked: str | None) -> str:
    """The tenant a question reads: the caller's, or ``asked`` when an admin asks it."""
    own = omium.tenant
    if asked is None or asked == own:
        return own
    caller = omium.caller
    if caller is not None and not caller.may(MANAGE):
        raise Denied(
            403, "forbidden", f"a {caller.role} key reads its own tenant only; tenant= needs admin"
        )
    return asked


def scope(
    omium: OmiumDep,
    since: Since = None,
    until: Until = None,
    workflow: Workflow = None,
    tenant: Tenant = None,
) -> Scope:
    """The rows a question reads (a window that ends before it starts: 422)."""
    return Scope.of(tenant_of(omium, tenant), since, until, workflow)


ScopeDep = Annotated[Scope, Depends(scope)]


@router.get("/latency", response_model=list[LatencyRow])
async def latency(
    analytics: AnalyticsDep,
    where: ScopeDep,
    by: Annotated[str, Query(description="agent, step or workflow")] = "step",
) -> list[LatencyRow]:
    """Step durations: p50, p95, p99 and max per agent, step or workflow."""
    return await analytics.latency(by, where)


@router.get("/cost", response_model=list[CostRow])
async def cost(
    analytics: AnalyticsDep,
    where: ScopeDep,
    by: Annotated[str, Query(description="model, workflow, execution, day or agent")] = "model",
) -> list[CostRow]:
    """LLM calls, tokens and cost in USD per model, workflow, execution, day or agent."""
    return await analytics.cost(by, where)


@router.get("/failures", response_model=list[FailureRow])
async def failures(
    analytics: AnalyticsDep,
    where: ScopeDep,
    by: Annotated[str, Query(description="workflow or step")] = "workflow",
) -> list[FailureRow]:
    """Executions, failures, failure rate and the most common error per workflow or step."""
    return await analytics.failures(by, where)


@router.get("/slowest", response_model=list[SlowestRow])
async def slowest(
    analytics: AnalyticsDep,
    where: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> list[SlowestRow]:
    """The finished executions that took longest."""
    return await analytics.slowest(where, limit)


@router.get("/tools", response_model=list[ToolRow])
async def tools(analytics: AnalyticsDep, where: ScopeDep) -> list[ToolRow]:
    """Calls, errors, error rate and p95 latency per tool."""
    return await analytics.tools(where)


@router.get("/sql", response_model=SqlResult, dependencies=[needs(MANAGE)])
async def sql(
    analytics: AnalyticsDep,
    omium: OmiumDep,
    # the whole request head must fit uvicorn's 16 KiB even with every character
    # percent-encoded from 4 UTF-8 bytes (12 characters each)
    q: Annotated[str, Query(min_length=1, max_length=1000, description="One read-only query.")],
    tenant: Annotated[
        str | None, Query(max_length=100, description="(admin) another tenant")
    ] = None,
) -> SqlResult:
    """A read-only query over one tenant's rows (admin keys only; see docs/analytics.md).

    Every omium table is filtered to the tenant; the engine runs it with ``readonly=1``.
    Admin only: a table function such as ``merge()`` reads past the filter.
    """
    return await analytics.sql(q, tenant=tenant_of(omium, tenant))
