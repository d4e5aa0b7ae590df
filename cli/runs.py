"""``omium run``, ``omium worker`` and ``omium pause|resume|cancel``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from omium.cli import processors as procs
from omium.cli.aio import EXIT_FAILED, JsonOpt, UrlOpt, run
from omium.cli.live import live_lines
from omium.cli.queued import say_if_queued
from omium.cli.tail import tail_command
from omium.processors import service
from omium.processors.control import load_view
from omium.processors.worker import Worker
from omium.producers import BrokerCluster, EventLog, open_log
from omium.projections import ExecutionView
from omium.schemas import ExecutionFailed, LogError


def run_command(
    file: Annotated[Path, typer.Argument(help="The workflow file (YAML or JSON).")],
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
    spec = service.with_durability(service.load_workflow(file), durability)
    inputs = service.parse_inputs(input_ or [], inputs_file)
    show_steps = sys.stdout.isatty() and not as_json if follow is None else follow
    result = run(_run(url, spec, file, inputs, detach, show_steps, execution_id))
    if as_json:
        typer.echo(orjson.dumps(result).decode())
    elif detach:
        typer.echo(result["execution_id"])
    else:
        typer.echo(f"{result['execution_id']}: {result['status']}")
    if not detach and result["status"] != "completed":
        raise typer.Exit(EXIT_FAILED)


async def _run(
    url: str | None,
    spec: Any,
    file: Path,
    inputs: dict[str, Any],
    detach: bool,
    show: bool,
    execution_id: str | None,
) -> dict[str, Any]:
    log = open_log(url)
    try:
        execution_id = await service.submit(log, spec, file, inputs, execution_id=execution_id)
        if detach:
            await say_if_queued(log, execution_id, "the run")
            return {
                "execution_id": execution_id,
                "status": "queued",
                "attempt": 1,
                "output": None,
                "error": None,
            }
        if show:
            typer.echo(f"{execution_id}: {spec.name} on {log.url}", err=True)
        local = LocalWorker(log, execution_id)
        failed: ExecutionFailed | None = None
        try:
            with live_lines(show, len(spec.steps)) as lines:
                async for event in service.follow(log, execution_id, check=local.check):
                    failed = event if isinstance(event, ExecutionFailed) else failed
                    if lines is not None:
                        lines.event(event)
        except asyncio.CancelledError:  # Ctrl-C: say what becomes of the run, then exit 130
            local.interrupted()
            typer.echo(
                f"omium: {execution_id} is left unfinished; `omium worker` continues it from "
                f"its last checkpoint, `omium cancel {execution_id}` ends it",
                err=True,
            )
            raise
        finally:
            await local.close()
        view = await load_view(log, execution_id)
        return {
            "execution_id": execution_id,
            "status": view.status,
            "attempt": view.attempt,
            "output": view.output,
            "error": run_error(view, failed),
        }
    finally:
        await log.close()


def run_error(view: ExecutionView, failed: ExecutionFailed | None) -> dict[str, Any] | None:
    """The ``error`` of ``run --json``: type, message and step of a run that did not complete."""
    if view.status == "failed" and failed is not None and failed.attempt == view.attempt:
        error = failed.payload.error
        return {"type": error.type, "message": error.message, "step": failed.payload.step}
    if view.finished and view.status != "completed":  # cancelled, timed out
        return {"type": view.status, "message": view.error, "step": None}
    return None


class LocalWorker:
    """An in-process worker while no `omium worker` serves the embedded log.

    Checked between polls of the follow loop: it starts one when the log has no live
    worker (also later, if the worker that was there dies), and it turns a run or worker
    that stopped on an error into an error here instead of an endless wait.
    """

    def __init__(self, log: EventLog, execution_id: str) -> None:
        self.log = log
        self.execution_id = execution_id
        self.worker: Worker | None = None
        self.task: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()
        self._next_look = 0.0
        self._waiting_since = time.monotonic()
        self._warned = False

    async def check(self, view: ExecutionView) -> None:
        """Start a worker if none serves the log; raise if the one serving this run died."""
        if self.worker is not None and self.task is not None:
            if self.task.done():
                error = None if self.task.cancelled() else self.task.exception()
                raise LogError(f"the in-process worker stopped: {error}")
            failed = self.worker.failed.get(self.execution_id)
            if failed is not None:
                raise LogError(f"{self.execution_id} stopped: {type(failed).__name__}: {failed}")
            return
        if time.monotonic() < self._next_look:
            return
        self._next_look = time.monotonic() + 2.0
        live = await service.live_workers(self.log)
        if live == 0:
            self.worker = Worker(self.log, notify=lambda m: typer.echo(f"omium: {m}", err=True))
            self.task = asyncio.create_task(self.worker.run(self.stop))
        elif live is None and view.status == "unknown" and not self._warned:
            if time.monotonic() - self._waiting_since > 5:  # Kafka: workers run elsewhere
                self._warned = True
                typer.echo(
                    f"omium: no worker has taken {self.execution_id} yet; "
                    f"start one with `omium worker --url {self.log.url}`",
                    err=True,
                )

    def interrupted(self) -> None:
        """Ctrl-C: stop at once, cutting the steps in flight (they run again later)."""
        if self.worker is not None:
            self.worker.hand_over_grace = 0

    async def close(self) -> None:
        """Stop the in-process worker, if one was started (runs end at a step boundary)."""
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task


def worker_command(
    concurrency: Annotated[int, typer.Option(min=1, help="Executions run at once.")] = 8,
    processors: Annotated[
        bool, typer.Option(help="Also run the projection processors (see `omium processors`).")
    ] = True,
    url: UrlOpt = None,
) -> None:
    """Run executions from the command topic until interrupted (Ctrl-C) or SIGTERM.

    On SIGTERM (and Ctrl-C) each run stops at its next step boundary, everything it did
    recorded, and the next worker continues it; a step still running after 30 s is cut and
    runs again there.

    With --processors (the default) the execution views are kept up to date beside it: on
    the embedded log in this process, on Kafka by an `omium processors` child process.
    """

    async def serve() -> None:
        log = open_log(url)
        worker = Worker(
            log,
            concurrency=concurrency,
            notify=lambda m: typer.echo(f"omium worker: {m}", err=True),
        )
        typer.echo(f"omium worker {worker.name} on {log.url} (concurrency {concurrency})", err=True)
        stop = asyncio.Event()
        side: list[asyncio.Task[None]] = []
        children: list[subprocess.Popen[bytes]] = []
        if processors and isinstance(log, BrokerCluster):
            children.append(procs.spawn(log.url))
            side.append(asyncio.create_task(procs.supervise(children, log.url, stop)))
        elif processors:
            side.append(asyncio.create_task(procs.projector(log).run(stop)))
            side += procs.analytics_beside(log, stop)  # analytics (issue 13), when set up

        def terminate() -> None:
            typer.echo("omium worker: SIGTERM: stopping runs at their step boundaries", err=True)
            stop.set()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
        try:
            await worker.run(stop)
        finally:
            stop.set()
            for task in side:
                with contextlib.suppress(Exception):
                    await task
            for proc in children:
                proc.terminate()
                await asyncio.to_thread(proc.wait, 30)
            await log.close()

    run(serve())


def _control(kind: str) -> Any:
    def command(
        execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
        reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
        url: UrlOpt = None,
    ) -> None:
        async def send() -> None:
            log = open_log(url)
            try:
                await service.command(log, execution_id, kind, reason=reason)
                await say_if_queued(log, execution_id, f"the {kind}")
            finally:
                await log.close()

        run(send())
        typer.echo(f"{kind} requested for {execution_id}")

    command.__doc__ = {
        "pause": "Pause an execution before its next step.",
        "resume": "Resume a paused execution.",
        "cancel": "Cancel an execution (interrupts the running step).",
    }[kind]
    return command


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

    async def send() -> None:
        log = open_log(url)
        try:
            await service.command(log, execution_id, "resume", **payload)
            await say_if_queued(
                log, execution_id, "the answer" if input_ is not None else "the resume"
            )
        finally:
            await log.close()

    run(send())
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
