"""The workflow registry as a fold of ``workflow.registered`` records (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omium.schemas import WorkflowRegistered


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    """One registered version of a workflow (the newest registration of it wins)."""

    name: str
    version: str
    spec: dict[str, Any]
    source: str
    modules: tuple[str, ...]
    registered_at: datetime


def registry(records: Iterable[WorkflowRegistered]) -> dict[str, list[WorkflowVersion]]:
    """Name -> its versions, in the order they were first registered (the last is current).

    Registering a version again (from another folder, say) updates where it comes from
    but neither adds a version nor makes it current again.
    """
    out: dict[str, dict[str, WorkflowVersion]] = {}
    for record in records:
        p = record.payload
        versions = out.setdefault(p.name, {})
        versions[p.version] = WorkflowVersion(
            name=p.name,
            version=p.version,
            spec=dict(p.spec),
            source=p.source,
            modules=tuple(p.modules),
            registered_at=record.ts,
        )
    return {name: list(versions.values()) for name, versions in out.items()}
