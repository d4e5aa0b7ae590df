"""``omium executions list|show``: what ran, as the projections have it."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import JsonOpt, UrlOpt, run
from omium.cli.alerts import alerts_table
from omium.services import runs
from omium.services.alerts import AlertRow
from omium.services.client import connect
from omium.services.models import ExecutionOut, ExecutionPage, dump

app = typer.Typer(help="Look up executions.", no_args_is_help=True)


@app.command("show")
def show(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """One execution: status, steps (with retries and durations) and checkpoints."""

    async def load() -> tuple[ExecutionOut, list[AlertRow]]:
        async with connect(url) as api:
            view = await api.show(execution_id)
            # the alerts are for people: --json keeps to the execution's contract
            return view, [] if json_ else await api.alerts_of(execution_id)

    view, raised = run(load())
    if json_:
        typer.echo(orjson.dumps(dump(view)).decode())
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
        node = f" as node {b.as_node}" if b.as_node else ""
        console.print(
            f"attempt {b.attempt} continues from {b.checkpoint_id}{edits}{node}", markup=False
        )
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
    if raised:
        console.print("alerts raised about it:", markup=False)
        console.print(alerts_table(raised))
    if view.output is not None:
        print_json(console, "output", view.output)


def steps_table(view: ExecutionOut) -> Table:
    """One row per step of each attempt; a step tried again shows its retries."""
    table = Table("step", "attempt", "status", "retries", "duration", "error", box=None)
    for s in view.steps:
        took = s.duration_ms  # what the live output showed: the step's code, measured
        if took is None and s.ended_at and s.started_at:  # a view stored before durations
            took = (s.ended_at - s.started_at).total_seconds() * 1000
        # a subgraph's node sits under its parent, indented by its depth
        name = s.name if s.parent is None else "  " * s.name.count("/") + s.name.rsplit("/")[-1]
        table.add_row(
            name,
            str(s.attempt),
            s.status,
            str(s.retry) if s.retry else "",
            f"{took:,.0f} ms" if took is not None else "",
            s.error or "",
        )
    return table


def checkpoints_table(view: ExecutionOut) -> Table:
    """The checkpoints a rollback can continue from (``omium checkpoints`` has their state)."""
    table = Table(box=None)
    table.add_column("checkpoint", no_wrap=True)  # the id to roll back to: never cut
    nested = any(c.ns for c in view.checkpoints)  # a subgraph's: show namespaces
    for column in ("attempt", "seq", "after step", *(["namespace"] if nested else [])):
        table.add_column(column)
    for c in view.checkpoints:
        cells = [c.checkpoint_id, str(c.attempt), str(c.seq), c.step or ""]
        table.add_row(*cells, *([namespace(c.ns)] if nested else []))
    return table


def namespace(ns: str) -> str:
    """A LangGraph checkpoint namespace, short: ``node:task…/node:task…`` ('' for the root)."""
    if not ns:
        return ""
    parts = (p.partition(":") for p in ns.split("|"))
    return "/".join(f"{node}:{task[:8]}…" for node, _, task in parts)


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
        typer.Option(help=f"Only this status: {', '.join(sorted(runs.STATUSES))}."),
    ] = None,
    workflow: Annotated[
        str | None, typer.Option(help="Only this workflow (with --limit or --cursor).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=runs.PAGE_LIMIT,
            help="The newest N only, newest first: reads only what they need, however long "
            "the history (--json then prints a page with its next_cursor).",
        ),
    ] = None,
    cursor: Annotated[
        str | None, typer.Option(help="The page after the one whose next_cursor this is.")
    ] = None,
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Every execution in the log, oldest first (``queued``: no worker took it yet).

    With --limit or --cursor, a page of the newest instead (what GET /executions serves).
    """
    paged = limit is not None or cursor is not None or workflow is not None

    async def load() -> ExecutionPage:
        async with connect(url) as api:
            if paged:
                return await api.page(
                    status=status, workflow=workflow, limit=limit or 50, cursor=cursor
                )
            return ExecutionPage(executions=await api.executions(status))

    page = run(load())
    if json_:
        typer.echo(orjson.dumps(dump(page if paged else page.executions)).decode())
        return
    table = Table(box=None)
    table.add_column("execution", no_wrap=True)  # the id to act on: never cut
    for column in ("workflow", "status", "attempt", "steps", "submitted"):
        table.add_column(column)
    for v in page.executions:
        table.add_row(
            v.execution_id,
            v.workflow or "",
            v.status,
            str(v.attempt),
            str(v.steps_completed),
            v.submitted_at.strftime("%Y-%m-%d %H:%M:%S") if v.submitted_at else "",
        )
    Console().print(table)
    if page.next_cursor is not None:
        typer.echo(f"more: --cursor {page.next_cursor}", err=True)
