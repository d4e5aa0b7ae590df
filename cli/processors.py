"""``omium processors``: run the projection processors (faust on Kafka, the projector embedded)."""

from __future__ import annotations

from typing import Annotated

import typer

from omium.cli.aio import EXIT_INTERRUPTED, UrlOpt
from omium.services.client import refuse_remote
from omium.services.worker import serve_processors


def processors_command(
    instance_id: Annotated[
        str | None,
        typer.Option(
            help="Kafka static membership id, unique per process (default: host-based "
            "with --static). A restarted worker with the same id gets its partitions back "
            "at once instead of after the session timeout."
        ),
    ] = None,
    static: Annotated[
        bool, typer.Option(help="Use `<host>-projections` as the static membership id.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="faust's log level.")] = "warning",
    only: Annotated[
        str | None, typer.Option(help="Run only this processor: analytics (the ClickHouse sink).")
    ] = None,
    url: UrlOpt = None,
) -> None:
    """Fold omium.events into the execution views until interrupted (Ctrl-C).

    On Kafka this is a faust-streaming worker keeping the views in a changelog-backed
    table (start as many as you like: partitions spread over them). On the embedded log
    it keeps the view store beside the log file caught up (readers also catch it up).
    """
    refuse_remote(url, "`omium processors`")
    try:
        serve_processors(
            url,
            instance_id=instance_id,
            static=static,
            log_level=log_level,
            notify=_say,
            only=only,
        )
    except KeyboardInterrupt:  # the embedded projector, stopped by Ctrl-C
        typer.echo("omium: interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _say(message: str) -> None:
    typer.echo(f"omium {message}", err=True)
