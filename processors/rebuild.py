"""Rebuilding views from the log, as of now or of a past point, and comparing them.

A rebuild folds ``omium.events`` (and the ``run`` commands of ``omium.commands``, which make
``queued`` views) from offset 0 into a fresh in-memory store with the same code the live
processors run; comparing it with the live views field by field is how a
test (or an operator) proves the live projections lost and double-applied nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime

from omium.processors.projector import Projector
from omium.processors.view_store import SqliteViews
from omium.producers import EventLog, Record
from omium.projections import ExecutionView, without_states
from omium.schemas.topics import EVENTS


@dataclass(frozen=True)
class Rebuilt:
    """Every execution's view as of the rebuild point."""

    views: dict[str, ExecutionView]
    records: int
    dead_letters: int


async def rebuild(
    log: EventLog, *, to_offset: int | None = None, to_time: datetime | None = None
) -> Rebuilt:
    """Fold the whole events topic (each partition up to ``to_offset``/``to_time``).

    An offset is a point of ``omium.events`` only: such a rebuild has no ``queued`` views.
    """
    until: Callable[[Record], bool] | None = None
    if to_offset is not None:
        limit = to_offset

        def until(record: Record) -> bool:
            return record.position.topic != EVENTS.name or record.position.offset > limit

    elif to_time is not None:
        limit_ms = int(to_time.timestamp() * 1000)

        def until(record: Record) -> bool:
            return record.timestamp_ms > limit_ms

    store = SqliteViews(":memory:")
    try:
        projector = Projector(log, store)
        # dead letters of a rebuild are reported, not sent again: the live processors did
        projector.send_dead = False
        records = await projector.catch_up(until)
        views = {v.execution_id: v for v in store.all()}
        return Rebuilt(views, records, projector.dead_letters)
    finally:
        store.close()


def differences(
    live: Mapping[str, ExecutionView], rebuilt: Mapping[str, ExecutionView]
) -> dict[str, list[str]]:
    """Per execution, the view fields that differ (``missing`` / ``extra`` for absent ones)."""
    found: dict[str, list[str]] = {}
    for execution_id in sorted(set(live) | set(rebuilt)):
        if execution_id not in live:
            found[execution_id] = ["missing from the live views"]
            continue
        if execution_id not in rebuilt:
            found[execution_id] = ["not in the log (extra in the live views)"]
            continue
        a, b = without_states(live[execution_id]), without_states(rebuilt[execution_id])
        names = [f.name for f in fields(ExecutionView) if getattr(a, f.name) != getattr(b, f.name)]
        if names:
            found[execution_id] = names
    return found
