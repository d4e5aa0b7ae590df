"""Debug re-execution: run a recorded attempt's workflow code again, in this process, for free.

Each framework re-executes in its own way (see :mod:`omium.processors.frameworks`): python
steps are *served* their recorded output or run *live* (``--live STEP``); graphs and crews
run live with every LLM and tool call answered from the log. The first point where the code
asks for something the recording does not have, or returns something else than it
recorded, is the divergence, reported with both sides. Nothing is appended to the log.

An attempt opened by a rollback is re-executed from its branch point, with the state it
started from (the snapshot plus the rollback's edits).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omium.processors.frameworks import (
    Reexecution,
    ReexecutionRequest,
    StepOutcome,
    load_framework,
)
from omium.processors.history import events_of, original_run
from omium.processors.reader import ProjectionReader
from omium.processors.versions import workflow_version
from omium.producers import EventLog
from omium.producers.recorded import Diverged
from omium.projections import fold
from omium.schemas import ConfigError, VersionMismatch
from omium.schemas.workflow import WorkflowSpec

__all__ = ["Diverged", "Reexecution", "StepOutcome", "reexecute"]


class _Connections:
    """Counts ``socket.connect`` audit events while armed (an audit hook cannot be removed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._installed = False
        self._armed = 0
        self.count = 0

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.connect" and self._armed:
            with self._lock:
                self.count += 1

    @contextmanager
    def watching(self) -> Iterator[list[int]]:
        """Yield a one-item list that holds, on exit, the connections opened meanwhile."""
        with self._lock:
            if not self._installed:
                sys.addaudithook(self._hook)
                self._installed = True
            self._armed += 1
            before = self.count
        found = [0]
        try:
            yield found
        finally:
            with self._lock:
                self._armed -= 1
                found[0] = self.count - before


_connections = _Connections()


async def reexecute(
    log: EventLog,
    execution_id: str,
    *,
    attempt: int | None = None,
    until_step: str | None = None,
    live: frozenset[str] = frozenset(),
    reader: ProjectionReader | None = None,
) -> Reexecution:
    """Re-execute one attempt (default: the newest) of a workflow run; see the module docs.

    The log is read first; while the code re-runs, the process's network connections are
    counted (:attr:`Reexecution.connections`), so "nothing reached a provider" is measured.
    """
    events = [r.event() for r in await events_of(log, execution_id, reader)]
    view = fold(events)
    attempt = view.attempt if attempt is None else attempt
    if attempt not in view.last_seq:
        raise ConfigError(f"execution {execution_id} has no attempt {attempt}")
    run = await original_run(log, view, "re-executed")
    spec = WorkflowSpec.model_validate(run.payload.spec or {})
    source = Path(run.payload.source or ".")
    wanted = run.payload.workflow_version
    if wanted is not None and (here := workflow_version(spec, source)[0]) != wanted:
        raise VersionMismatch(
            f"execution {execution_id} ran workflow {spec.name!r} version {wanted}, but the "
            f"files at {source} here are version {here}",
            hint="check that version out to re-execute what ran",
        )
    framework = await load_framework(spec.framework)
    request = ReexecutionRequest(
        spec=spec,
        source=source,
        view=view,
        events=events,
        attempt=attempt,
        until_step=until_step,
        live=live,
    )
    with _connections.watching() as opened:
        report = await framework.reexecute(request)
    report.connections = opened[0]
    return report
