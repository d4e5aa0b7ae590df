"""``omium workflows register|list``: the registry of workflows runnable by name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import JsonOpt, UrlOpt, run
from omium.services import registry
from omium.services.client import connect, direct
from omium.services.models import WorkflowOut, dump

app = typer.Typer(help="Register workflows and list them (run them by name).", no_args_is_help=True)


@app.command("register")
def register(
    files: Annotated[list[Path], typer.Argument(help="Workflow files (YAML or JSON).")],
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Register workflow files, to run them by name (`omium run NAME`, POST /executions).

    The version is a hash of the spec and the modules it names; the same files again
    register nothing new.
    """

    async def go() -> list[WorkflowOut]:
        async with direct(url, "`omium workflows register`") as local:
            return [await registry.register(local.app, path) for path in files]

    done = run(go())
    if json_:
        typer.echo(orjson.dumps(dump(done)).decode())
        return
    for w in done:
        typer.echo(f"{w.name} {w.version} ({w.source})")


@app.command("list")
def list_(json_: JsonOpt = False, url: UrlOpt = None) -> None:
    """Every registered workflow and version (`current`: what a run by name gets)."""

    async def go() -> list[WorkflowOut]:
        async with connect(url) as api:
            return await api.workflows()

    found = run(go())
    if json_:
        typer.echo(orjson.dumps(dump(found)).decode())
        return
    table = Table("workflow", "version", "current", "registered", "source", box=None)
    for w in found:
        table.add_row(
            w.name,
            w.version,
            "*" if w.current else "",
            w.registered_at.strftime("%Y-%m-%d %H:%M:%S"),
            w.source,
        )
    Console().print(table)
