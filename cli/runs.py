"""``omium run``, ``omium worker`` and ``omium pause|resume|cancel``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from omium.cli import processors as procs
from omium.cli.aio import EXIT_FAILED, JsonOpt, UrlOpt, run
from omium.cli.live import live_lines
from omium.cli.queued import say_queued
from omium.cli.tail import tail_command
from omium.services import registry
from omium.services.client import connect, direct, refuse_remote
from omium.services.client_port import Client, Submission
from omium.services.models import RunResult, WorkflowOut, dump
from omium.services.worker import serve_worker
from omium.services.workflows import load_workflow, parse_inputs, with_durability


def run_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="The workflow file (YAML or JSON), or the name of a registered workflow "
            "(see `omium workflows`).",
            metavar="FILE|NAME",
        ),
    ],
    input_: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="key=value (value parsed as JSON when it is JSON)."),
    ] = None,
    inputs_file: Annotated[
        Path | None, typer.Option(help="A JSON object of inputs (--input wins).")
    ] = None,
    detach: Annotated[bool, typer.Option(help="Submit and return at once.")] = False,
    follow: Annotated[
        bool | None, typer.Option(help="Show steps live (default: when stdout is a terminal).")
    ] = None,
    execution_id: Annotated[
        str | None,
        typer.Option(
            "--execution-id",
            help="Choose the id. The same submission again (workflow, spec, inputs) is a "
            "no-op; another one with an existing id is refused (exit 2).",
        ),
    ] = None,
    durability: Annotated[
        str | None,
        typer.Option(
            help="batched (group commit within 20 ms) or step (each step durable before the "
            "next starts); default: the workflow's `durability`, else batched.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Run a workflow and follow it to the end (exit 0 completed, 1 otherwise).

    On the embedded log the run executes in this process when no `omium worker` is running;
    pause, resume and cancel work from another terminal. On Kafka a worker runs it.
    """
    by_name = registry.is_name(str(file)) and not file.exists()
    local = None if by_name else with_durability(load_workflow(file), durability)
    inputs = parse_inputs(input_ or [], inputs_file)
    show_steps = sys.stdout.isatty() and not as_json if follow is None else follow

    async def go() -> RunResult:
        if local is not None:  # a file read here: the log itself, never a gateway
            async with direct(url, "`omium run FILE`") as app:
                sub = await app.submit_spec(local, file, inputs, execution_id=execution_id)
                return await _follow(app, sub, detach, show_steps)
        async with connect(url) as api:
            sub = await api.submit(
                str(file), inputs, execution_id=execution_id, durability=durability
            )
            return await _follow(api, sub, detach, show_steps)

    result = run(go())
    if as_json:
        typer.echo(orjson.dumps(dump(result)).decode())
    elif detach:
        typer.echo(result.execution_id)
    else:
        typer.echo(f"{result.execution_id}: {result.status}")
    if not detach and result.status != "completed":
        raise typer.Exit(EXIT_FAILED)


async def _follow(api: Client, sub: Submission, detach: bool, show_steps: bool) -> RunResult:
    ex = sub.execution_id
    if detach:
        if await api.no_worker():
            say_queued(ex, "the run")
        return RunResult(execution_id=ex, status="queued", attempt=1)
    if show_steps:
        typer.echo(f"{ex}: {sub.workflow} on {api.where}", err=True)
    try:
        with live_lines(show_steps, sub.steps or 0) as lines:
            return await api.follow_run(
                ex, on_event=None if lines is None else lines.event, notify=_say
            )
    except asyncio.CancelledError:  # Ctrl-C: say what becomes of the run, then 130
        typer.echo(
            f"omium: {ex} is left unfinished; `omium worker` continues it from "
            f"its last checkpoint, `omium cancel {ex}` ends it",
            err=True,
        )
        raise


def _say(message: str) -> None:
    typer.echo(f"omium: {message}", err=True)


def worker_command(
    concurrency: Annotated[int, typer.Option(min=1, help="Executions run at once.")] = 8,
    processors: Annotated[
        bool, typer.Option(help="Also run the projection processors (see `omium processors`).")
    ] = True,
    workflows: Annotated[
        Path | None,
        typer.Option(
            help="Register the workflow files in this folder first (what this worker can "
            "run by name; see `omium workflows`)."
        ),
    ] = None,
    url: UrlOpt = None,
    # --- alerts (issue 14): the rules of the alert processor run beside the projector
    alerts: Annotated[
        Path | None,
        typer.Option(help="Alert rules (default: OMIUM_ALERTS, else infra/alerts.yaml)."),
    ] = None,
    # --- end alerts
) -> None:
    """Run executions from the command topic until interrupted (Ctrl-C) or SIGTERM.

    On SIGTERM (and Ctrl-C) each run stops at its next step boundary, everything it did
    recorded, and the next worker continues it; a step still running after 30 s is cut and
    runs again there.

    With --processors (the default) the execution views are kept up to date beside it: on
    the embedded log in this process, on Kafka by an `omium processors` child process.
    """
    refuse_remote(url, "`omium worker`")
    if workflows is not None:

        async def register() -> list[WorkflowOut]:
            async with direct(url, "`omium worker`") as local:
                return await registry.register_folder(local.app, workflows)

        for w in run(register()):
            typer.echo(f"omium worker: registered {w.name} {w.version}", err=True)
    run(
        serve_worker(
            url,
            concurrency=concurrency,
            processors=processors,
            notify=lambda m: typer.echo(f"omium worker: {m}", err=True),
            alerts=alerts,  # alerts (issue 14)
        )
    )


def _control(kind: str) -> Any:
    def command(
        execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
        reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
        url: UrlOpt = None,
    ) -> None:
        _steer(url, execution_id, kind, {"reason": reason}, f"the {kind}")
        typer.echo(f"{kind} requested for {execution_id}")

    command.__doc__ = {
        "pause": "Pause an execution before its next step.",
        "resume": "Resume a paused execution.",
        "cancel": "Cancel an execution (interrupts the running step).",
    }[kind]
    return command


def _steer(
    url: str | None, execution_id: str, kind: str, payload: dict[str, Any], what: str
) -> None:
    async def send() -> bool:
        async with connect(url) as api:
            return (await api.steer(execution_id, kind, **payload)).queued

    if run(send()):
        say_queued(execution_id, what)


def resume_command(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    input_: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="Answer the input the run waits for (a graph's interrupt()), as JSON: "
            """'{"approved": true}'. A value that is not JSON is sent as a string.""",
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    url: UrlOpt = None,
) -> None:
    """Resume a paused execution, or answer one that waits for input (--input)."""
    payload: dict[str, Any] = {"reason": reason}
    if input_ is not None:
        try:
            payload["input"] = json.loads(input_)
        except json.JSONDecodeError:
            payload["input"] = input_
    what = "the answer" if input_ is not None else "the resume"
    _steer(url, execution_id, "resume", payload, what)
    typer.echo(
        f"{'input sent to' if input_ is not None else 'resume requested for'} {execution_id}"
    )


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command("run")(run_command)
    app.command("worker")(worker_command)
    app.command("processors")(procs.processors_command)
    app.command("tail")(tail_command)
    for kind in ("pause", "cancel"):
        app.command(kind)(_control(kind))
    app.command("resume")(resume_command)
