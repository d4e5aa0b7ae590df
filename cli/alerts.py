"""``omium alerts [list] [--follow]`` and ``omium alerts rules [check PATH]``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import JsonOpt, UrlOpt, run
from omium.schemas import ConfigError
from omium.schemas.workflow import parse_duration
from omium.services import alerts as service
from omium.services import bootstrap
from omium.services.client import refuse_remote

app = typer.Typer(
    help="Alerts the rules raised on the live stream, and the rules themselves.",
    invoke_without_command=True,
)
rules_app = typer.Typer(help="The alert rules in force.", invoke_without_command=True)
app.add_typer(rules_app, name="rules")

SinceOpt = Annotated[
    str | None,
    typer.Option(help="Only alerts raised since: a duration ago (10m, 2h) or an ISO time."),
]
RuleOpt = Annotated[str | None, typer.Option("--rule", help="Only this rule's alerts.")]
ExecutionOpt = Annotated[
    str | None, typer.Option("--execution", help="Only alerts about this execution.")
]
FollowOpt = Annotated[bool, typer.Option("--follow", "-f", help="Print alerts as raised.")]
FileOpt = Annotated[
    Path | None,
    typer.Option("--file", help="A rules file (default: OMIUM_ALERTS, else the defaults)."),
]


def since_time(value: str | None, now: datetime | None = None) -> datetime | None:
    """``--since``: a duration ago or an ISO-8601 time (UTC when it names no zone)."""
    if value is None:
        return None
    try:
        return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"--since {value!r}: expected a duration (10m, 2h) or an ISO time"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@app.callback()
def alerts_command(
    ctx: typer.Context,
    follow: FollowOpt = False,
    since: SinceOpt = None,
    rule: RuleOpt = None,
    execution: ExecutionOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """List the alerts raised (the same as `omium alerts list`)."""
    if ctx.invoked_subcommand is None:
        list_command(follow, since, rule, execution, as_json, url)


@app.command("list")
def list_command(
    follow: FollowOpt = False,
    since: SinceOpt = None,
    rule: RuleOpt = None,
    execution: ExecutionOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """List the alerts raised, oldest first (--follow: then the new ones as raised)."""
    where = service.AlertFilter(since=since_time(since), rule=rule, execution_id=execution)

    refuse_remote(url, "`omium alerts`")  # the gateway lists them at /api/v1/alerts

    async def show() -> None:
        async with bootstrap(url) as omium:
            if follow:
                async for row in service.follow(omium.log, where):
                    _echo_row(row, as_json)
                return
            rows = await service.alerts(omium.log, where)
        if as_json:
            typer.echo(orjson.dumps([r.model_dump(mode="json") for r in rows]).decode())
        elif not rows:
            typer.echo("no alerts")
        else:
            Console(width=160).print(alerts_table(rows))

    run(show())


def _echo_row(row: service.AlertRow, as_json: bool) -> None:
    if as_json:
        typer.echo(orjson.dumps(row.model_dump(mode="json")).decode())
    else:
        when = row.raised_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{when}  {row.severity:<8} {row.rule}  {row.execution_id}  {row.message}")


def alerts_table(rows: list[service.AlertRow]) -> Table:
    """Alert rows as a table (``omium alerts``; ``omium executions show`` may use it too)."""
    table = Table("raised", "severity", "rule", "execution", "message", "resolved")
    for row in rows:
        table.add_row(
            row.raised_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.severity,
            row.rule,
            f"{row.execution_id} #{row.attempt}",
            row.message,
            row.resolved_at.strftime("%H:%M:%S") if row.resolved_at else "",
        )
    return table


@app.command("run")
def run_command(
    file: Annotated[
        Path | None,
        typer.Option("--alerts", help="The rules file (default: OMIUM_ALERTS, else the defaults)."),
    ] = None,
    once: Annotated[
        bool, typer.Option(help="Catch up with the log, deliver, and exit (no timers wait).")
    ] = False,
    member: Annotated[
        str | None,
        typer.Option(
            help="i/N: member i of N evaluators splitting a Kafka log's partitions "
            "(member 0 also runs the rules across executions)."
        ),
    ] = None,
    url: UrlOpt = None,
) -> None:
    """Evaluate the alert rules on the live log until interrupted (Ctrl-C).

    `omium worker` already does this beside its runs on the embedded log. On Kafka run one
    of these per cluster, or N with --member 0/N … N-1/N: each keeps its state in a local
    file under OMIUM_HOME.
    """
    refuse_remote(url, "`omium alerts run`")

    async def serve() -> None:
        async with bootstrap(url) as omium:
            log = omium.log
            runners = service.evaluators(log, file, member=member)
            for runner in runners:
                typer.echo(
                    f"omium alerts: {len(runner.rules)} rules on {log.url} "
                    f"(state in {runner.store.path})",
                    err=True,
                )
            try:
                if once:
                    read = sum([await r.catch_up() for r in runners])
                    for runner in runners:
                        await runner.dispatcher.drain(30)
                    appended = sum(r.appended for r in runners)
                    typer.echo(f"omium alerts: read {read} events, appended {appended}", err=True)
                else:
                    stop = asyncio.Event()
                    await asyncio.gather(*(r.run(stop) for r in runners))
            finally:
                for runner in runners:
                    runner.store.close()

    run(serve())


@rules_app.callback()
def rules_command(ctx: typer.Context, file: FileOpt = None, as_json: JsonOpt = False) -> None:
    """Show the alert rules in force, validated (a bad file: one line, exit 2)."""
    if ctx.invoked_subcommand is None:
        _show_rules(service.rules(file), as_json)


@rules_app.command("check")
def check_command(
    path: Annotated[Path, typer.Argument(help="The rules file to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Check a rules file without running it (exit 2 and one line when it is wrong)."""
    report = service.rules(path)
    if as_json:
        typer.echo(report.model_dump_json())
    else:
        typer.echo(f"{report.path}: {len(report.rules)} rules, valid")


def _show_rules(report: service.RulesReport, as_json: bool) -> None:
    if as_json:
        typer.echo(report.model_dump_json())
        return
    typer.echo(f"rules from {report.path}")
    table = Table("name", "kind", "severity", "filters", "parameters", "sinks")
    for rule in report.rules:
        filters = ", ".join(
            f"{k}={v}" for k, v in (("workflow", rule.workflow), ("tenant", rule.tenant)) if v
        )
        params = ", ".join(f"{k}={v}" for k, v in rule.params.items() if v is not None)
        table.add_row(
            rule.name, rule.kind, rule.severity, filters, params, ", ".join(rule.sinks) or "log"
        )
    Console(width=160).print(table)
