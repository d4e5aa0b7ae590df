"""``omium topics``: create and list the log's topics from ``omium.schemas.topics``."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from omium.cli.aio import UrlOpt, run
from omium.producers import open_log
from omium.schemas.topics import TOPICS

app = typer.Typer(help="Create and inspect the log's topics.", no_args_is_help=True)


@app.command("create")
def create(url: UrlOpt = None) -> None:
    """Create every omium topic that does not exist yet (idempotent)."""

    async def create_all() -> None:
        log = open_log(url)
        try:
            await log.create_topics(TOPICS)
        finally:
            await log.close()

    run(create_all())
    typer.echo(f"topics ready: {', '.join(t.name for t in TOPICS)}")


@app.command("list")
def list_(
    url: UrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each topic's partitions and how many records each holds."""

    async def ends() -> dict[str, dict[int, int]]:
        log = open_log(url)
        try:
            return {t.name: await log.end_offsets(t.name) for t in TOPICS}
        finally:
            await log.close()

    offsets = run(ends())
    if as_json:
        as_dict = {name: {str(p): o for p, o in ends_.items()} for name, ends_ in offsets.items()}
        typer.echo(orjson.dumps(as_dict).decode())
        return
    for name, ends_ in offsets.items():
        typer.echo(f"{name:16} {len(ends_):3} partitions  {sum(ends_.values()):>10,} records")
