"""Submitting, steering and looking up runs: the use cases both faces share.

A ``run`` is a command appended to ``omium.commands``; whoever owns its partition (a
worker, or an in-process one, see :mod:`omium.services.local`) executes it. Lookups read
the projections through the :class:`~omium.processors.reader.ProjectionReader`; commands
are checked against the execution's own events (:func:`~omium.processors.history.current`),
which is what its worker will see however far the projections lag.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from omium.processors import history
from omium.processors.control import load_view
from omium.processors.history import current, pending, refuse_saver_thread
from omium.processors.listing import Listing, listing_key
from omium.processors.worker import GROUP
from omium.producers import EventLog, LiveMembers, Record
from omium.projections import STATUSES as STATUSES  # the faces offer them as choices
from omium.projections import ExecutionView, fold
from omium.schemas import ConfigError, Conflict, Event, NotFound, Run, from_dict
from omium.schemas.topics import COMMANDS
from omium.schemas.workflow import WorkflowSpec
from omium.services.context import Omium
from omium.services.models import (
    ExecutionOut,
    ExecutionPage,
    ExecutionSummary,
    RecordOut,
    Steered,
)

#: the commands that steer a running execution
STEERING = ("pause", "resume", "cancel")


async def submit(
    log: EventLog,
    spec: WorkflowSpec,
    path: Path,
    inputs: Mapping[str, Any],
    *,
    execution_id: str | None = None,
    tenant_id: str = "default",
    version: str | None = None,
) -> str:
    """Append a ``run`` command; returns the execution id.

    ``version``: the registered version the worker must have (see :mod:`.registry`).

    A chosen ``execution_id`` that exists must be the same submission (workflow, spec and
    inputs): then the second run changes nothing; otherwise :class:`ConfigError`.
    """
    fresh = execution_id is None
    execution_id = execution_id or f"ex-{uuid.uuid4().hex[:12]}"
    run = Run.model_validate(
        {
            "execution_id": execution_id,
            "tenant_id": tenant_id,
            "payload": {
                "workflow": spec.name,
                "spec": spec.model_dump(mode="json"),
                "inputs": dict(inputs),
                "source": str(path.resolve()),
                "fresh_id": fresh,
                "workflow_version": version,
            },
        }
    )
    if not fresh:
        await _same_submission(log, run)
    await log.append(run)
    return execution_id


async def _same_submission(log: EventLog, run: Run) -> None:
    """Refuse ``run`` when its execution id already names another submission."""
    execution_id, wanted = run.execution_id, run.payload
    earlier = [r.event() for r in await log.read_execution(execution_id, topic=COMMANDS.name)]
    first = next((c for c in earlier if isinstance(c, Run)), None)
    workflow: str | None
    if first is not None:
        had = first.payload
        workflow, inputs, spec = had.workflow, dict(had.inputs), had.spec
    else:
        view = await load_view(log, execution_id)
        if view.status == "unknown" and not view.last_seq:
            return  # a new id
        workflow, inputs, spec = view.workflow, view.inputs, wanted.spec
    fix = "choose another --execution-id, or leave it out for a fresh one"
    owner = first.tenant_id if first is not None else view.tenant_id
    if owner != run.tenant_id:
        # Ids are one namespace across tenants, so the collision itself cannot be hidden;
        # what the other tenant ran (workflow, inputs) must not show through the message.
        raise Conflict(f"execution id {execution_id!r} is taken", hint=fix)
    if workflow != wanted.workflow:
        raise Conflict(
            f"execution {execution_id} exists with workflow {workflow!r}, not {wanted.workflow!r}",
            hint=fix,
        )
    if inputs != wanted.inputs:
        keys = sorted(k for k in {*inputs, *wanted.inputs} if inputs.get(k) != wanted.inputs.get(k))
        raise Conflict(
            f"execution {execution_id} exists with other inputs (differing: {', '.join(keys)})",
            hint=fix,
        )
    if spec != wanted.spec:
        raise Conflict(
            f"execution {execution_id} exists with another version of workflow {workflow!r}",
            hint=fix,
        )


async def command(
    log: EventLog, execution_id: str, kind: str, *, tenant_id: str = "default", **payload: Any
) -> ExecutionView:
    """Send ``pause``/``resume``/``cancel`` to an execution that exists and is not finished.

    Returns the view the command was checked against (before it acts).
    """
    view = await current(log, execution_id)
    refuse_saver_thread(view)
    if view.finished:
        raise Conflict(f"execution {execution_id} already {view.status}; nothing to {kind}")
    answering = kind == "resume" and payload.get("input") is not None
    if answering and view.status not in ("waiting", "paused"):
        raise Conflict(
            f"execution {execution_id} is {view.status} and waits for no input; "
            "resume it without --input"
        )
    if kind == "resume" and view.status == "waiting" and not answering:
        prompt = (view.waiting or {}).get("prompt", "")
        raise Conflict(
            f"execution {execution_id} waits for input ({prompt}); "
            f"answer with `omium resume {execution_id} --input '<JSON>'`"
        )
    if kind == "resume" and view.status != "paused" and not answering:
        raise Conflict(f"execution {execution_id} is {view.status}, not paused; nothing to resume")
    if kind == "pause" and view.status == "paused":
        raise Conflict(f"execution {execution_id} is already paused")
    await log.append(
        from_dict(
            {"type": kind, "execution_id": execution_id, "tenant_id": tenant_id, "payload": payload}
        )
    )
    return view


async def steer(app: Omium, execution_id: str, kind: str, **payload: Any) -> Steered:
    """:func:`command`, saying whether it waits for a worker that is not there."""
    if kind not in STEERING:
        raise ConfigError(f"{kind!r} is not a command", hint=f"use {', '.join(STEERING)}")
    await visible(app, execution_id)  # another tenant's execution: not found
    checked = await command(app.log, execution_id, kind, tenant_id=app.tenant, **payload)
    return Steered(
        execution_id=execution_id,
        command=kind,
        status=checked.status,
        queued=await no_worker(app.log),
    )


async def view(app: Omium, execution_id: str) -> ExecutionView:
    """One execution's view, from the projections (``queued`` if no worker took it yet).

    Raises:
        NotFound: no execution has that id.
    """
    found = await app.reader.execution(execution_id)
    if found is None or found.status == "unknown":
        found = await pending(app.log, execution_id)
    if not app.sees(found.tenant_id):  # exactly as if it did not exist
        raise NotFound(
            f"no execution {execution_id!r} in {app.log.url}",
            hint="list them with `omium executions list`",
        )
    return found


async def visible(app: Omium, execution_id: str) -> None:
    """Raise ``NotFound`` when a scoped caller may not see ``execution_id`` (see ``Omium``).

    Unscoped (the CLI) nothing is read: the use case finds out itself, from the log.
    """
    if app.caller is not None:
        await view(app, execution_id)


async def show(app: Omium, execution_id: str) -> ExecutionOut:
    """``omium executions show``: one execution, as the contract has it."""
    return ExecutionOut.from_view(await view(app, execution_id))


async def views(app: Omium, status: str | None = None) -> list[ExecutionView]:
    """Every execution's view (of one status, checked), oldest submission first."""
    _check_status(status)
    return [v for v in await app.reader.executions(status) if app.sees(v.tenant_id)]


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise ConfigError(
            f"--status {status!r}: no execution has that status",
            hint=f"use one of {', '.join(sorted(STATUSES))}",
        )


async def executions(app: Omium, status: str | None = None) -> list[ExecutionSummary]:
    """``omium executions list``: a summary of each execution, oldest submission first."""
    return [ExecutionSummary.from_view(v) for v in await views(app, status)]


#: the most executions one page lists
PAGE_LIMIT = 500


async def page(
    app: Omium,
    *,
    status: str | None = None,
    workflow: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> ExecutionPage:
    """``GET /executions``: newest submission first, ``limit`` at a time.

    ``next_cursor`` is opaque: pass it back as ``cursor`` for the page after this one. A
    queued execution (no submission time folded yet) counts as the newest.
    """
    if not 1 <= limit <= PAGE_LIMIT:
        raise ConfigError(f"limit {limit}: must be 1 to {PAGE_LIMIT}")
    _check_status(status)

    listing = Listing(
        limit + 1,  # one more than the page: whether there is a next one
        before=_decode_cursor(cursor) if cursor else None,
        since=since,
        until=until,
        status=status,
        workflow=workflow,
        tenant=app.caller.tenant if app.caller is not None else None,  # see Omium.sees
    )
    rows = await app.reader.newest(listing)
    shown = rows[:limit]
    return ExecutionPage(
        executions=[ExecutionSummary.from_view(v) for v in shown],
        next_cursor=_encode_cursor(listing_key(shown[-1])) if len(rows) > limit else None,
    )


def _encode_cursor(key: tuple[datetime, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([key[0].isoformat(), key[1]])).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        moment, execution_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(moment), str(execution_id)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ConfigError(
            f"cursor {cursor!r} is not one this API gave",
            hint="pass the next_cursor of the previous page as it is",
        ) from None


async def follow_records(
    log: EventLog,
    execution_id: str,
    *,
    interval: float = 0.1,
    start: int = 0,
    check: Callable[[ExecutionView], Awaitable[None]] | None = None,
    done: Callable[[ExecutionView], bool] = lambda view: view.finished,
) -> AsyncGenerator[Record, None]:
    """Yield the execution's records from offset ``start`` on, as recorded, until ``done``.

    This is a stream of events, not a view read: the events it yields are folded only to
    know when to stop (by default: the execution finished), so following never waits for
    the projections. Start at the execution's first event for ``done`` to see them all.

    ``check`` gets the view between polls and may raise to stop following (e.g. the worker
    running it died).
    """
    folded = ExecutionView(execution_id=execution_id)
    offset = start
    while True:
        if check is not None:
            await check(folded)
        for record in await log.read_execution(execution_id, start=offset):
            folded = fold([record.event()], folded)
            offset = record.position.offset + 1
            yield record
        if done(folded):
            return
        await asyncio.sleep(interval)


async def follow(
    log: EventLog,
    execution_id: str,
    *,
    interval: float = 0.1,
    check: Callable[[ExecutionView], Awaitable[None]] | None = None,
    done: Callable[[ExecutionView], bool] = lambda view: view.finished,
) -> AsyncIterator[Event]:
    """The events of :func:`follow_records`, from the execution's first."""
    async for record in follow_records(
        log, execution_id, interval=interval, check=check, done=done
    ):
        yield record.event()


async def watch(app: Omium, execution_id: str) -> AsyncGenerator[RecordOut, None]:
    """The execution's records from its first, live, until it finished (for SSE).

    Raises:
        NotFound: no execution has that id (raised here, before anything is streamed).
    """
    found = await view(app, execution_id)
    start = found.first_position[2] if found.first_position else 0

    async def records() -> AsyncGenerator[RecordOut, None]:
        async for record in follow_records(app.log, execution_id, start=start):
            yield RecordOut.of(record)

    return records()


async def records(app: Omium, execution_id: str) -> list[RecordOut]:
    """``GET /executions/{id}/events``: the execution's records, in log order."""
    await view(app, execution_id)  # NotFound for an id never submitted
    return [RecordOut.of(r) for r in await history.events_of(app.log, execution_id, app.reader)]


async def live_workers(log: EventLog) -> int | None:
    """How many workers are in the executor group, where the log can tell (else None)."""
    if not isinstance(log, LiveMembers):
        return None
    return await log.live_members(GROUP)


async def no_worker(log: EventLog) -> bool:
    """Whether a command on ``log`` waits for a worker: the log can tell, and none is alive.

    On Kafka workers run elsewhere and the log cannot tell: then False.
    """
    return await live_workers(log) == 0
