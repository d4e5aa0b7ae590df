"""The root ``omium`` app: command groups composed with ``add_typer``, and error mapping."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from omium import __version__
from omium.cli import (
    alerts,
    analytics,
    executions,
    history,
    keys,
    log,
    projections,
    runs,
    schemas,
    serve,
    topics,
    workflows,
)
from omium.schemas import OmiumError

app = typer.Typer(
    name="omium",
    help="Durable, inspectable and reversible AI agent workflows on an event log.\n\n"
    "The log is chosen by OMIUM_LOG_URL: unset means the embedded SQLite file "
    ".omium/log.db; kafka://host:port uses a Kafka cluster. With OMIUM_API_URL (and "
    "OMIUM_API_KEY) the commands the REST API covers go through `omium serve` there "
    "(--url still names a log).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
runs.register(app)
app.command("serve")(serve.serve_command)
history.register(app)
app.add_typer(executions.app, name="executions")
app.add_typer(workflows.app, name="workflows")
app.add_typer(keys.app, name="keys")
app.add_typer(log.app, name="log")
app.add_typer(projections.app, name="projections")
app.add_typer(topics.app, name="topics")
app.add_typer(schemas.app, name="schemas")
app.add_typer(alerts.app, name="alerts")
app.add_typer(analytics.app, name="analytics")


@app.command()
def version() -> None:
    """Print omium's version."""
    typer.echo(__version__)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print omium's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Durable, inspectable and reversible AI agent workflows on an event log.

    The log is chosen by OMIUM_LOG_URL: unset means the embedded SQLite file .omium/log.db;
    kafka://host:port uses a Kafka cluster. With OMIUM_API_URL (and OMIUM_API_KEY) the
    commands the REST API covers go through `omium serve` there (--url still names a log).
    """


def exit_code(error: OmiumError) -> int:
    """The exit code for a deliberate error: its class says (see ``omium.schemas.errors``)."""
    return error.exit_code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; an :class:`OmiumError` becomes one line on stderr, never a traceback."""
    try:
        app(args=argv)  # standalone: usage errors and --help exit through SystemExit
    except OmiumError as error:
        print(f"omium: error: {error}", file=sys.stderr)
        return exit_code(error)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
