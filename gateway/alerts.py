"""``/api/v1/alerts``: what the alert rules raised, for the caller's tenant.

HTTP mapping only: the rows of :func:`omium.services.alerts.alerts` (the JSON of
``omium alerts --json``), read from ``omium.alerts`` and deduplicated by ``alert_id``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from omium.gateway.deps import OmiumDep
from omium.gateway.errors import RESPONSES
from omium.gateway.executions import ISO_TIME
from omium.services import history
from omium.services.alerts import AlertFilter, AlertRow, alerts

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=RESPONSES)


@router.get("/alerts", response_model=list[AlertRow])
async def list_alerts(
    omium: OmiumDep,
    since: Annotated[
        str | None,
        Query(pattern=ISO_TIME, description="Raised at or after (ISO 8601; no zone: UTC)."),
    ] = None,
    rule: Annotated[str | None, Query(max_length=200)] = None,
    execution_id: Annotated[str | None, Query(max_length=200)] = None,
) -> list[AlertRow]:
    """The alerts of the caller's tenant, oldest first, each once (``resolved_at`` when cleared)."""
    where = AlertFilter(
        since=history.parse_time(since, "since") if since else None,
        rule=rule,
        execution_id=execution_id,
        tenant_id=omium.tenant,
    )
    return await alerts(omium.log, where)
