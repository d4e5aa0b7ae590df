"""``omium executions list|show``: what ran, as folded from the log."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import JsonOpt, UrlOpt, run
from omium.processors import service
from omium.processors.reader import open_reader
from omium.producers import open_log
from omium.projections import STATUSES, ExecutionView

app = typer.Typer(help="Look up executions.", no_args_is_help=True)


def as_json(view: ExecutionView) -> dict[str, Any]:
    """The documented ``executions show --json`` shape."""
    return {
        "execution_id": view.execution_id,
        "workflow": view.workflow,
        "status": view.status,
        "attempt": view.attempt,
        "inputs": view.inputs,
        "output": view.output,
        "error": view.error,
        "waiting": view.waiting,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "attempt": s.attempt,
                "seq": s.seq,
                "started_at": s.started_at.isoformat() if s.started_at else None,
                "ended_at": s.ended_at.isoformat() if s.ended_at else None,
                "error": s.error,
                "retry": s.retry,
                "duration_ms": s.duration_ms,
            }
            for s in view.steps
        ],
        "checkpoints": [
            {
                "checkpoint_id": c.checkpoint_id,
                "step": c.step,
                "attempt": c.attempt,
                "seq": c.seq,
                "position": dict(zip(("topic", "partition", "offset"), c.position, strict=True))
                if c.position
                else None,
            }
            for c in view.checkpoints
        ],
        "branches": [
            {
                "attempt": b.attempt,
                "from_attempt": b.from_attempt,
                "checkpoint_id": b.checkpoint_id,
                "overrides": b.overrides,
            }
            for b in view.branches
        ],
        "usage": {
            "llm_calls": view.usage.llm_calls,
            "input_tokens": view.usage.input_tokens,
            "output_tokens": view.usage.output_tokens,
            "cost_usd": view.usage.cost_usd,
            "tool_calls": view.usage.tool_calls,
        },
    }


@app.command("show")
def show(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """One execution: status, steps (with retries and durations) and checkpoints."""

    async def load() -> ExecutionView:
        log = open_log(url)
        reader = open_reader(log)
        try:
            return await service.show(log, execution_id, reader)
        finally:
            await reader.close()
            await log.close()

    view = run(load())
    if json_:
        typer.echo(orjson.dumps(as_json(view)).decode())
        return
    console = Console()
    console.print(
        f"[bold]{view.execution_id}[/] {view.workflow or ''}  status [bold]{view.status}"
        f"[/]  attempt {view.attempt}"
    )
    if view.saver is not None:
        at = view.saver.last_checkpoint_at
        when = f"; last checkpoint {at:%Y-%m-%d %H:%M:%S} UTC" if at else ""
        console.print(f"OmiumSaver thread (no omium run){when}", markup=False)
    if view.error:
        console.print(f"error: {view.error}", markup=False)
    if view.waiting:
        console.print(
            f"waiting for input: {view.waiting.get('prompt')}\n"
            f"  answer: omium resume {view.execution_id} --input '<JSON>'",
            markup=False,
        )
    for b in view.branches:
        edits = f" with {', '.join(b.overrides)} set" if b.overrides else ""
        console.print(f"attempt {b.attempt} continues from {b.checkpoint_id}{edits}", markup=False)
    if view.usage.llm_calls or view.usage.tool_calls:
        u = view.usage
        console.print(
            f"{u.llm_calls} LLM calls, {u.input_tokens:,} tokens in / {u.output_tokens:,} out, "
            f"${u.cost_usd:.4f}; {u.tool_calls} tool calls",
            markup=False,
        )
    console.print(steps_table(view))
    if view.checkpoints:
        console.print(checkpoints_table(view))
    if view.output is not None:
        print_json(console, "output", view.output)


def steps_table(view: ExecutionView) -> Table:
    """One row per step of each attempt; a step tried again shows its retries."""
    table = Table("step", "attempt", "status", "retries", "duration", "error", box=None)
    for s in view.steps:
        took = s.duration_ms  # what the live output showed: the step's code, measured
        if took is None and s.ended_at and s.started_at:  # a view stored before durations
            took = (s.ended_at - s.started_at).total_seconds() * 1000
        table.add_row(
            s.name,
            str(s.attempt),
            s.status,
            str(s.retry) if s.retry else "",
            f"{took:,.0f} ms" if took is not None else "",
            s.error or "",
        )
    return table


def checkpoints_table(view: ExecutionView) -> Table:
    """The checkpoints a rollback can continue from (``omium checkpoints`` has their state)."""
    table = Table(box=None)
    table.add_column("checkpoint", no_wrap=True)  # the id to roll back to: never cut
    for column in ("attempt", "seq", "after step"):
        table.add_column(column)
    for c in view.checkpoints:
        table.add_row(c.checkpoint_id, str(c.attempt), str(c.seq), c.step or "")
    return table


def print_json(console: Console, label: str, value: dict[str, Any]) -> None:
    """Pretty JSON, or for a big value a one-line summary (``--json`` has all of it)."""
    text = orjson.dumps(value).decode()
    if len(text) <= 2000:
        console.print(f"{label}:")
        console.print_json(text)
    else:  # a page of JSON helps nobody here
        keys = ", ".join(value)
        console.print(
            f"{label}: {len(text):,} bytes of JSON with keys {keys} (see --json)", markup=False
        )


@app.command("list")
def list_(
    status: Annotated[
        str | None,
        typer.Option(help=f"Only this status: {', '.join(sorted(STATUSES))}."),
    ] = None,
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Every execution in the log, oldest first (``queued``: no worker took it yet)."""

    async def load() -> list[ExecutionView]:
        log = open_log(url)
        reader = open_reader(log)
        try:
            return await service.executions(reader, status)
        finally:
            await reader.close()
            await log.close()

    views = run(load())
    if json_:
        typer.echo(
            orjson.dumps(
                [
                    {
                        "execution_id": v.execution_id,
                        "workflow": v.workflow,
                        "status": v.status,
                        "attempt": v.attempt,
                        "submitted_at": v.submitted_at.isoformat() if v.submitted_at else None,
                    }
                    for v in views
                ]
            ).decode()
        )
        return
    table = Table("execution", "workflow", "status", "attempt", "steps", "submitted", box=None)
    for v in views:
        done = sum(s.status == "completed" for s in v.steps if s.attempt == v.attempt)
        table.add_row(
            v.execution_id,
            v.workflow or "",
            v.status,
            str(v.attempt),
            str(done),
            v.submitted_at.strftime("%Y-%m-%d %H:%M:%S") if v.submitted_at else "",
        )
    Console().print(table)
