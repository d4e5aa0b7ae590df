"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers and Prometheus."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from omium.gateway.deps import UnscopedDep
from omium.schemas import OmiumError
from omium.schemas.topics import EVENTS
from omium.services.lag import consumer_lag

router = APIRouter(tags=["operations"])

#: how long /readyz waits for the log or the projections before it says they are not there
READY_TIMEOUT_S = 5.0


class Health(BaseModel):
    """The process is up."""

    status: str


class Ready(BaseModel):
    """Whether the log and the projections answer; what does not, and why."""

    ready: bool
    log: str
    projections: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up (it says nothing of the log)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready}})
async def readyz(omium: UnscopedDep) -> Any:
    """The log and the projections answer within 5 s (503, naming what does not, if not)."""
    log = await _check(omium.log.partitions(EVENTS.name))
    views = await _check(omium.reader.execution("readyz-probe"))
    body = Ready(ready=log == views == "ok", log=log, projections=views)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


async def _check(call: Any) -> str:
    try:
        await asyncio.wait_for(call, READY_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {READY_TIMEOUT_S:.0f} s"
    except OmiumError as exc:
        return str(exc)
    return "ok"


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, omium: UnscopedDep) -> Response:
    """Prometheus text: requests, latencies, executions by status, consumer lag.

    The lag is reported where the log can tell (see :mod:`omium.services.lag`).
    """
    registry = request.app.state.metrics
    body = generate_latest(registry)
    # before the views are read: on the embedded log a read catches the store up
    behind = await consumer_lag(omium, READY_TIMEOUT_S)
    counts: dict[str, int] = {}
    try:
        for view in await asyncio.wait_for(omium.reader.executions(), READY_TIMEOUT_S):
            counts[view.status] = counts.get(view.status, 0) + 1
    except (TimeoutError, OmiumError):
        counts = {}
    lines = [
        "# HELP omium_executions Executions by status, as the projections have them.",
        "# TYPE omium_executions gauge",
    ]
    lines += [f'omium_executions{{status="{s}"}} {n}' for s, n in sorted(counts.items())]
    lines += [
        "# HELP omium_consumer_lag Records a consumer group has not processed yet "
        "(where the log can tell).",
        "# TYPE omium_consumer_lag gauge",
    ]
    lines += [
        f'omium_consumer_lag{{group="{lag.group}",topic="{lag.topic}"}} {lag.records}'
        for lag in behind
    ]
    return Response(body + ("\n".join(lines) + "\n").encode(), media_type=CONTENT_TYPE_LATEST)
