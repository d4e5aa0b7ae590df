"""What the web dashboard asks of the application layer beyond the API's use cases.

The dashboard (:mod:`omium.gateway.dashboard`) renders the same response models as the
JSON API; these are the few shapes only a page needs: counts by status for the list's
header, one checkpoint's state, and the registered workflows with their default inputs
for the run form.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from omium.schemas import NotFound
from omium.services import history, registry, runs
from omium.services.context import Omium
from omium.services.history_models import CheckpointOut


async def counts(app: Omium) -> dict[str, int]:
    """How many executions the caller sees, by status (every status, zero included)."""
    found = Counter(v.status for v in await runs.views(app))
    return {status: found.get(status, 0) for status in sorted(runs.STATUSES)}


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
