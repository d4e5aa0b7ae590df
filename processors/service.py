"""What the CLI (and later the gateway) ask of omium: submit, steer, follow, look up runs.

A thin layer over the log: a ``run`` is a command appended to ``omium.commands``; whoever
owns its partition (a worker, or the CLI's in-process worker) executes it. Reads fold the
execution's own events.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml

from omium.processors.control import load_view
from omium.processors.frameworks import framework
from omium.processors.reader import ProjectionReader
from omium.processors.worker import GROUP
from omium.producers import EventLog, LiveMembers
from omium.projections import STATUSES, ExecutionView, fold
from omium.schemas import ConfigError, Event, InvalidSpec, NotFound, Run, from_dict
from omium.schemas.topics import COMMANDS
from omium.schemas.workflow import DURABILITY_MODES, WorkflowSpec, spec_from_data


def load_workflow(path: Path) -> WorkflowSpec:
    """Read, parse and check a workflow file (its step functions are imported too)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InvalidSpec(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidSpec(f"{path}: cannot read it ({exc.strerror})") from None
    spec = parse_spec(text, str(path))
    # the workflow's code is imported now, so a typo fails here and not in a worker
    framework(spec.framework).check(spec, path.resolve().parent, str(path))
    return spec


def with_durability(spec: WorkflowSpec, durability: str | None) -> WorkflowSpec:
    """``spec`` with its ``durability`` set for this run (None: as the workflow says).

    Raises:
        ConfigError: not one of the modes.
    """
    if durability is None:
        return spec
    if durability not in DURABILITY_MODES:
        raise ConfigError(
            f"--durability {durability!r}: not a durability mode",
            hint=f"use {' or '.join(DURABILITY_MODES)}",
        )
    return spec.model_copy(update={"durability": durability})


def parse_spec(text: str, filename: str) -> WorkflowSpec:
    """Parse a YAML or JSON workflow file's text (``filename`` is for messages)."""
    try:
        data = json.loads(text) if filename.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise InvalidSpec(f"{filename}: not valid YAML/JSON{line}: {exc}".splitlines()[0]) from None
    return spec_from_data(data, filename)


def parse_inputs(
    pairs: list[str], inputs_file: Path | None = None, *, flag: str = "--input"
) -> dict[str, Any]:
    """``key=value`` pairs (value parsed as JSON when it is JSON) over an optional file."""
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        try:
            loaded = orjson.loads(inputs_file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"--inputs-file {inputs_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--inputs-file {inputs_file}: expected a JSON object")
        inputs.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r}: expected key=value", hint=f"e.g. {flag} top=3")
        try:
            inputs[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            inputs[key] = value
    return inputs


async def submit(
    log: EventLog,
    spec: WorkflowSpec,
    path: Path,
    inputs: Mapping[str, Any],
    *,
    execution_id: str | None = None,
    tenant_id: str = "default",
) -> str:
    """Append a ``run`` command; returns the execution id.

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
    if workflow != wanted.workflow:
        raise ConfigError(
            f"execution {execution_id} exists with workflow {workflow!r}, not {wanted.workflow!r}",
            hint=fix,
        )
    if inputs != wanted.inputs:
        keys = sorted(k for k in {*inputs, *wanted.inputs} if inputs.get(k) != wanted.inputs.get(k))
        raise ConfigError(
            f"execution {execution_id} exists with other inputs (differing: {', '.join(keys)})",
            hint=fix,
        )
    if spec != wanted.spec:
        raise ConfigError(
            f"execution {execution_id} exists with another version of workflow {workflow!r}",
            hint=fix,
        )


async def command(log: EventLog, execution_id: str, kind: str, **payload: Any) -> ExecutionView:
    """Send ``pause``/``resume``/``cancel`` to an execution that exists and is not finished."""
    view = await show(log, execution_id)
    refuse_saver_thread(view)
    if view.finished:
        raise ConfigError(f"execution {execution_id} already {view.status}; nothing to {kind}")
    answering = kind == "resume" and payload.get("input") is not None
    if answering and view.status not in ("waiting", "paused"):
        raise ConfigError(
            f"execution {execution_id} is {view.status} and waits for no input; "
            "resume it without --input"
        )
    if kind == "resume" and view.status == "waiting" and not answering:
        prompt = (view.waiting or {}).get("prompt", "")
        raise ConfigError(
            f"execution {execution_id} waits for input ({prompt}); "
            f"answer with `omium resume {execution_id} --input '<JSON>'`"
        )
    if kind == "resume" and view.status != "paused" and not answering:
        raise ConfigError(
            f"execution {execution_id} is {view.status}, not paused; nothing to resume"
        )
    if kind == "pause" and view.status == "paused":
        raise ConfigError(f"execution {execution_id} is already paused")
    await log.append(from_dict({"type": kind, "execution_id": execution_id, "payload": payload}))
    return view


def refuse_saver_thread(view: ExecutionView) -> None:
    """Refuse to steer a LangGraph thread an ``OmiumSaver`` recorded: no worker runs it.

    Raises:
        ConfigError: ``view`` is such a thread (exit 2).
    """
    if view.saver is not None:
        raise ConfigError(
            f"{view.execution_id} is a LangGraph thread recorded by OmiumSaver, not an omium "
            "run; it has no worker to steer"
        )


async def show(
    log: EventLog, execution_id: str, reader: ProjectionReader | None = None
) -> ExecutionView:
    """One execution's view: from ``reader``'s projections, else folded from the log."""
    if reader is not None:
        found = await reader.execution(execution_id)
        view = found or ExecutionView(execution_id=execution_id)
    else:
        view = await load_view(log, execution_id)
    if view.status == "unknown":
        pending = await log.read_execution(execution_id, topic=COMMANDS.name)
        if not pending:
            raise NotFound(
                f"no execution {execution_id!r} in {log.url}",
                hint="list them with `omium executions list`",
            )
        view = ExecutionView(
            execution_id=execution_id,
            status="queued",
            workflow=pending[0].event().payload.model_dump().get("workflow"),
        )
    return view


async def executions(reader: ProjectionReader, status: str | None = None) -> list[ExecutionView]:
    """Every execution's view (of one status, checked), oldest submission first."""
    if status is not None and status not in STATUSES:
        raise ConfigError(
            f"--status {status!r}: no execution has that status",
            hint=f"use one of {', '.join(sorted(STATUSES))}",
        )
    return await reader.executions(status)


async def follow(
    log: EventLog,
    execution_id: str,
    *,
    interval: float = 0.1,
    start: int = 0,
    check: Callable[[ExecutionView], Awaitable[None]] | None = None,
    done: Callable[[ExecutionView], bool] = lambda view: view.finished,
) -> AsyncIterator[Event]:
    """Yield the execution's events as they are recorded, until ``done`` (it finishes).

    ``check`` gets the view between polls and may raise to stop following (e.g. the worker
    running it died). The view folds the events from ``start`` on.
    """
    view = ExecutionView(execution_id=execution_id)
    offset = start
    while True:
        if check is not None:
            await check(view)
        records = await log.read_execution(execution_id, start=offset)
        for record in records:
            event = record.event()
            view = fold([event], view)
            offset = record.position.offset + 1
            yield event
        if done(view):
            return
        await asyncio.sleep(interval)


async def live_workers(log: EventLog) -> int | None:
    """How many workers are in the executor group, where the log can tell (else None)."""
    if not isinstance(log, LiveMembers):
        return None
    return await log.live_members(GROUP)
