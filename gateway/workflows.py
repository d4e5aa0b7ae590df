"""``/api/v1/workflows`` and ``POST /api/v1/executions``: registered workflows, run by name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from omium.gateway.deps import OmiumDep
from omium.gateway.errors import RESPONSES
from omium.services import registry
from omium.services.models import Submitted, WorkflowOut

router = APIRouter(prefix="/api/v1", tags=["workflows"], responses=RESPONSES)


@router.get("/workflows", response_model=list[WorkflowOut])
async def workflows(omium: OmiumDep) -> list[WorkflowOut]:
    """Every registered workflow and version (``current``: what a run by name gets)."""
    return await registry.workflows(omium)


class Submit(BaseModel):
    """Run a registered workflow."""

    workflow: str = Field(min_length=1, max_length=200)
    version: str | None = Field(None, description="default: the workflow's current version")
    inputs: dict[str, Any] = Field(default_factory=dict)
    execution_id: str | None = Field(None, min_length=1, max_length=200)


@router.post("/executions", response_model=Submitted, status_code=202, tags=["executions"])
async def submit(
    omium: OmiumDep,
    body: Submit,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> Submitted:
    """Submit a run of a registered workflow; a worker that has the version runs it.

    A retried request with the same ``Idempotency-Key`` starts nothing new and gets the
    same answer.
    """
    return await registry.submit_named(
        omium,
        body.workflow,
        body.inputs,
        version=body.version,
        execution_id=body.execution_id,
        idempotency_key=idempotency_key,
    )
