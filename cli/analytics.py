"""``omium analytics …``: the questions of :mod:`omium.services.analytics`, rendered.

Parsing and rendering only. ``--json`` prints a list of row objects (their keys are the
service's row models); otherwise a table with a small bar on the column that matters. Bad
input (an unknown ``--by``, a write statement, an empty window) is one line and exit 2.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from omium.cli.aio import UrlOpt, run
from omium.services import Settings
from omium.services.client import refuse_remote

if TYPE_CHECKING:
    from omium.services.analytics import Analytics, Scope

app = typer.Typer(
    help="Ask the analytics store (ClickHouse; chDB in-process by default).",
    no_args_is_help=True,
)

T = TypeVar("T")

SinceOpt = Annotated[str | None, typer.Option(help="From this time: ISO, or 7d/12h/30m ago.")]
UntilOpt = Annotated[str | None, typer.Option(help="Before this time: ISO, or 7d/12h/30m ago.")]
WorkflowOpt = Annotated[str | None, typer.Option(help="Only this workflow.")]
TenantOpt = Annotated[str | None, typer.Option(help="Tenant (default: OMIUM_TENANT_ID).")]
JsonRowsOpt = Annotated[bool, typer.Option("--json", help="Print a JSON list of rows.")]
AnalyticsUrlOpt = Annotated[
    str | None, typer.Option(help="Analytics URL (default: OMIUM_ANALYTICS_URL).")
]


def _service() -> ModuleType:
    # imported when an analytics command runs: loading it with the CLI cost every `omium`
    # command ~0.15 s, enough to slow workers that tests SIGKILL within seconds of starting
    from omium.services import analytics

    return analytics


def _ask(
    url: str | None, analytics_url: str | None, question: Callable[[Analytics], Awaitable[T]]
) -> T:
    # the gateway answers these at /api/v1/analytics/...; the CLI asks the store itself
    refuse_remote(url, "`omium analytics`")

    async def go() -> T:
        analytics = _service().open_at(url, analytics_url)
        try:
            return await question(analytics)
        finally:
            await analytics.close()

    return run(go())


def _scope(tenant: str | None, since: str | None, until: str | None, wf: str | None) -> Scope:
    scope: Scope = _service().Scope.of(tenant or Settings.load().tenant_id, since, until, wf)
    return scope


def _show(rows: Sequence[BaseModel], json_: bool, bar: str | None = None) -> None:
    if json_:
        typer.echo(orjson.dumps([r.model_dump(mode="json") for r in rows]).decode())
        return
    if not rows:
        typer.echo("no rows")
        return
    names = list(type(rows[0]).model_fields)
    table = Table(*names, *([""] if bar else []), box=None)
    top = max((float(getattr(r, bar)) for r in rows), default=0.0) if bar else 0.0
    for row in rows:
        cells = [_cell(getattr(row, n)) for n in names]
        if bar:
            share = float(getattr(row, bar)) / top if top else 0.0
            cells.append("█" * round(share * 20))
        table.add_row(*cells)
    Console().print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@app.command()
def latency(
    by: Annotated[str, typer.Option(help="agent, step or workflow.")] = "step",
    since: SinceOpt = None,
    until: UntilOpt = None,
    workflow: WorkflowOpt = None,
    tenant: TenantOpt = None,
    json_: JsonRowsOpt = False,
    url: UrlOpt = None,
    analytics_url: AnalyticsUrlOpt = None,
) -> None:
    """Step durations: p50, p95, p99 and max per agent, step or workflow."""
    scope = _scope(tenant, since, until, workflow)
    _show(_ask(url, analytics_url, lambda a: a.latency(by, scope)), json_, "p95_ms")


@app.command()
def cost(
    by: Annotated[str, typer.Option(help="model, workflow, execution, day or agent.")] = "model",
    since: SinceOpt = None,
    until: UntilOpt = None,
    workflow: WorkflowOpt = None,
    tenant: TenantOpt = None,
    json_: JsonRowsOpt = False,
    url: UrlOpt = None,
    analytics_url: AnalyticsUrlOpt = None,
) -> None:
    """LLM calls, tokens and USD per model, workflow, execution, day or agent."""
    scope = _scope(tenant, since, until, workflow)
    _show(_ask(url, analytics_url, lambda a: a.cost(by, scope)), json_, "cost_usd")


@app.command()
def failures(
    by: Annotated[str, typer.Option(help="workflow or step.")] = "workflow",
    since: SinceOpt = None,
    until: UntilOpt = None,
    workflow: WorkflowOpt = None,
    tenant: TenantOpt = None,
    json_: JsonRowsOpt = False,
    url: UrlOpt = None,
    analytics_url: AnalyticsUrlOpt = None,
) -> None:
    """How often each workflow (or step) fails, and its most common error."""
    scope = _scope(tenant, since, until, workflow)
    _show(_ask(url, analytics_url, lambda a: a.failures(by, scope)), json_, "failure_rate")


@app.command()
def slowest(
    limit: Annotated[int, typer.Option(help="How many executions.")] = 10,
    since: SinceOpt = None,
    until: UntilOpt = None,
    workflow: WorkflowOpt = None,
    tenant: TenantOpt = None,
    json_: JsonRowsOpt = False,
    url: UrlOpt = None,
    analytics_url: AnalyticsUrlOpt = None,
) -> None:
    """The finished executions that took longest."""
    scope = _scope(tenant, since, until, workflow)
    _show(_ask(url, analytics_url, lambda a: a.slowest(scope, limit)), json_, "duration_ms")


@app.command()
def tools(
    since: SinceOpt = None,
    until: UntilOpt = None,
    workflow: WorkflowOpt = None,
    tenant: TenantOpt = None,
    json_: JsonRowsOpt = False,
    url: UrlOpt = None,
    analytics_url: AnalyticsUrlOpt = None,
) -> None:
    """Calls, errors and p95 latency per tool."""
    scope = _scope(tenant, since, until, workflow)
    _show(_ask(url, analytics_url, lambda a: a.tools(scope)), json_, "calls")


@app.command("sql")
def sql_command(
    statement: Annotated[str, typer.Argument(help="One read-only statement (SELECT, WITH …).")],
    json_: JsonRowsOpt = False,
    url: UrlOpt = None,
    analytics_url: AnalyticsUrlOpt = None,
) -> None:
    """Run a read-only SQL query on the analytics tables."""
    result = _ask(url, analytics_url, lambda a: a.sql(statement))
    if json_:
        rows = [dict(zip(result.columns, r, strict=True)) for r in result.rows]
        typer.echo(orjson.dumps(rows, default=str).decode())
        return
    table = Table(*result.columns, box=None)
    for row in result.rows:
        table.add_row(*(_cell(v) for v in row))
    Console().print(table)


@app.command()
def migrate(url: UrlOpt = None, analytics_url: AnalyticsUrlOpt = None) -> None:
    """Create or upgrade the analytics tables (infra/clickhouse, in order)."""
    names = _ask(url, analytics_url, lambda a: a.migrate())
    typer.echo(f"applied {len(names)} migration(s)" + (": " + ", ".join(names) if names else ""))


@app.command()
def rebuild(
    from_offset: Annotated[
        int, typer.Option(help="Start every partition of omium.events at this offset.")
    ] = 0,
    url: UrlOpt = None,
    analytics_url: AnalyticsUrlOpt = None,
) -> None:
    """Rebuild the analytics tables from the log (after a price change, say): no duplicates."""
    written = _ask(url, analytics_url, lambda a: a.rebuild(from_offset))
    typer.echo(f"rebuilt: {written} event(s) written")
