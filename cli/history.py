"""``omium replay``, ``omium checkpoints``, ``omium diff`` and ``omium rollback``."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import EXIT_FAILED, JsonOpt, UrlOpt, run
from omium.cli.executions import namespace, print_json
from omium.cli.queued import say_queued
from omium.schemas import ConfigError, Event
from omium.services import history
from omium.services.client import connect, direct
from omium.services.history_models import (
    CheckpointOut,
    DiffOut,
    ReexecutionOut,
    ReplayOut,
    RollbackOut,
)
from omium.services.models import dump
from omium.services.workflows import parse_inputs


def replay_command(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    to_offset: Annotated[
        int | None, typer.Option(help="Stop after the event at this offset of its partition.")
    ] = None,
    to_seq: Annotated[int | None, typer.Option(help="Stop after this seq (of --attempt).")] = None,
    to_checkpoint: Annotated[
        str | None, typer.Option(help="Stop at this checkpoint (see `omium checkpoints`).")
    ] = None,
    to_time: Annotated[
        str | None, typer.Option(help="Stop after the last event at or before this ISO time.")
    ] = None,
    attempt: Annotated[
        int | None, typer.Option(help="The attempt --to-seq counts in; alone: its last event.")
    ] = None,
    verify: Annotated[
        bool, typer.Option(help="Check each checkpoint snapshot against the folded state.")
    ] = False,
    reexecute: Annotated[
        bool,
        typer.Option(
            help="Run the attempt's workflow again in this process, answering LLM and tool "
            "calls from the log (nothing is called, nothing recorded)."
        ),
    ] = False,
    live: Annotated[
        list[str] | None,
        typer.Option(
            help="With --reexecute: run this step's code (default: serve its recorded "
            "output). Repeat it, or give '*' for every step. Python workflows only: crews "
            "and graphs always run every step live (only '*' is accepted)."
        ),
    ] = None,
    until_step: Annotated[
        str | None, typer.Option(help="With --reexecute: stop after this step.")
    ] = None,
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Show an execution as it was at a point of its log: state and timeline.

    Without a point, the replay runs to the execution's last event. With --verify the exit
    code is 1 when a checkpoint snapshot differs from the state its events add up to.

    With --reexecute the workflow's steps run again here (put a breakpoint in them), the
    exit code is 1 at the first divergence from the recording, shown with both sides.
    """
    if reexecute:
        _reexecute(execution_id, attempt, until_step, frozenset(live or []), json_, url)
        return
    if live or until_step:
        raise ConfigError("--live and --until-step go with --reexecute")

    async def load() -> ReplayOut:
        async with connect(url) as api:
            return await api.replay(
                execution_id,
                to_offset=to_offset,
                to_seq=to_seq,
                to_checkpoint=to_checkpoint,
                to_time=history.parse_time(to_time) if to_time else None,
                attempt=attempt,
                verify=verify,
            )

    result = run(load())
    if json_:
        typer.echo(orjson.dumps(dump(result)).decode())
    else:
        _print_replay(result, verify)
    if result.mismatches:
        raise typer.Exit(EXIT_FAILED)


def _print_replay(result: ReplayOut, verify: bool) -> None:
    console = Console(highlight=False)
    where = result.position
    at = f" ({where.topic}/{where.partition}@{where.offset})" if where else ""
    console.print(
        f"[bold]{result.execution_id}[/] at attempt {result.attempt} seq {result.seq}"
        f"{at}: [bold]{result.status}[/]"
    )
    table = Table("attempt", "seq", "time", "what", box=None)
    for entry in result.timeline:
        table.add_row(
            str(entry.attempt), str(entry.seq), entry.ts.strftime("%H:%M:%S.%f")[:-3], entry.summary
        )
    console.print(table)
    print_json(console, "state", result.state)
    if verify:
        if not result.mismatches:
            console.print("verified: every checkpoint matches the state its events add up to")
        for m in result.mismatches:
            changes = dump(m)
            for key in ("checkpoint_id", "attempt", "seq"):
                del changes[key]
            console.print(f"MISMATCH at {m.checkpoint_id}: {orjson.dumps(changes).decode()}")


def _reexecute(
    execution_id: str,
    attempt: int | None,
    until_step: str | None,
    live: frozenset[str],
    as_json: bool,
    url: str | None,
) -> None:
    async def go() -> ReexecutionOut:
        async with direct(url, "`omium replay --reexecute`") as local:
            return await history.reexecute_attempt(
                local.app, execution_id, attempt=attempt, until_step=until_step, live=live
            )

    report = run(go())
    diverged = report.divergence
    if as_json:
        typer.echo(orjson.dumps(dump(report)).decode())
    else:
        console = Console(highlight=False)
        table = Table("step", "mode", "result", "calls answered", box=None)
        for s in report.steps:
            table.add_row(s.name, s.mode, s.result, str(s.calls_answered))
        console.print(f"{report.execution_id} attempt {report.attempt}, re-executed here:")
        console.print(table)
        if diverged is None:
            console.print("no divergence: every live step did what the recording says")
        else:
            console.print(f"DIVERGED at {diverged.at}", markup=False)
            console.print(f"  recorded: {orjson.dumps(diverged.recorded).decode()}", markup=False)
            console.print(f"  now:      {orjson.dumps(diverged.now).decode()}", markup=False)
        console.print(
            f"{report.connections} network connections opened while re-executing"
            + (" (nothing reached a provider)" if report.connections == 0 else "")
        )
    if diverged is not None:
        raise typer.Exit(EXIT_FAILED)


def checkpoints_command(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    attempt: Annotated[int | None, typer.Option(help="Only this attempt's checkpoints.")] = None,
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """List an execution's checkpoints, every attempt's (roll back to any of them)."""

    async def load() -> list[CheckpointOut]:
        async with connect(url) as api:
            return await api.checkpoints(execution_id, attempt)

    found = run(load())
    if json_:
        typer.echo(orjson.dumps(dump(found)).decode())
        return
    table = Table(box=None)
    table.add_column("checkpoint", no_wrap=True)  # the id to roll back to: never cut
    nested = any(c.ns for c in found)  # a subgraph's: show namespaces
    for column in (
        "attempt",
        "seq",
        "step",
        *(["namespace"] if nested else []),
        "position",
        "state keys",
    ):
        table.add_column(column)
    for c in found:
        where = c.position
        pos = f"{where.topic}/{where.partition}@{where.offset}" if where else ""
        keys = ", ".join(c.state or {})
        ns = [namespace(c.ns)] if nested else []
        table.add_row(c.checkpoint_id, str(c.attempt), str(c.seq), c.step or "", *ns, pos, keys)
    Console().print(table)


def diff_command(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    first: Annotated[str, typer.Argument(help="The checkpoint to compare from.")],
    second: Annotated[str, typer.Argument(help="The checkpoint to compare to.")],
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """What changed in the state between two checkpoints (of any attempts)."""

    async def load() -> DiffOut:
        async with connect(url) as api:
            return await api.diff(execution_id, first, second)

    found = run(load())
    if json_:
        typer.echo(orjson.dumps(dump(found)).decode())
        return
    if found.empty:
        typer.echo(f"no difference between {first} and {second}")
    for key, value in found.added.items():
        typer.echo(f"+ {key} = {orjson.dumps(value).decode()}")
    for key, value in found.removed.items():
        typer.echo(f"- {key} = {orjson.dumps(value).decode()}")
    for key, change in found.changed.items():
        before, after = orjson.dumps(change.from_).decode(), orjson.dumps(change.to).decode()
        typer.echo(f"~ {key}: {before} -> {after}")


def rollback_command(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    to: Annotated[str, typer.Option("--to", help="The checkpoint to continue from.")],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="key=value to change in the restored state (a what-if); the key must be "
            "in the checkpoint's state (see `omium checkpoints`).",
        ),
    ] = None,
    add: Annotated[
        list[str] | None,
        typer.Option("--add", help="key=value to put in the restored state, new keys too."),
    ] = None,
    as_node: Annotated[
        str | None,
        typer.Option(
            "--as-node",
            help="Graphs: the node the --set/--add edits are written as (LangGraph's "
            "update_state as_node); default: the one node that wrote those keys there.",
        ),
    ] = None,
    follow: Annotated[bool, typer.Option(help="Wait for the new attempt to finish.")] = False,
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Continue an execution from a checkpoint as a new attempt; nothing is deleted.

    A running execution is paused first. The new attempt runs the steps after the
    checkpoint with the state it recorded (and the --set edits).
    """
    overrides = parse_inputs(set_ or [], flag="--set")
    added = parse_inputs(add or [], flag="--add")

    def line(event: Event) -> None:
        typer.echo(f"  a{event.attempt} #{event.seq} {history.describe(event)}")

    async def send() -> RollbackOut:
        async with connect(url) as api:
            return await api.rollback(
                execution_id,
                to,
                overrides,
                added=added,
                as_node=as_node,
                wait=follow,
                on_event=None if json_ else line,
                notify=lambda m: typer.echo(f"omium: {m}", err=True),
            )

    result = run(send())
    if result.queued:
        say_queued(execution_id, "the rollback")
    if json_:
        typer.echo(orjson.dumps(dump(result)).decode())
    else:
        typer.echo(f"{execution_id}: rollback to {to} as attempt {result.attempt}: {result.status}")
    if follow and result.status != "completed":
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command("replay")(replay_command)
    app.command("checkpoints")(checkpoints_command)
    app.command("diff")(diff_command)
    app.command("rollback")(rollback_command)
