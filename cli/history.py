"""``omium replay``, ``omium checkpoints``, ``omium diff`` and ``omium rollback``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import EXIT_FAILED, JsonOpt, UrlOpt, run
from omium.cli.executions import print_json
from omium.cli.queued import say_if_queued
from omium.cli.runs import LocalWorker
from omium.processors import history, service
from omium.processors.reader import open_reader
from omium.processors.reexecute import Reexecution, reexecute
from omium.producers import open_log
from omium.projections import ExecutionView, Replayed, StateDiff, Until, describe
from omium.schemas import ConfigError


def _position(pos: tuple[str, int, int] | None) -> dict[str, Any] | None:
    return dict(zip(("topic", "partition", "offset"), pos, strict=True)) if pos else None


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--to-time {text!r}: not an ISO 8601 time", hint="e.g. 2026-11-26T10:15:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def replay_json(result: Replayed) -> dict[str, Any]:
    """The documented ``replay --json`` shape."""
    view = result.view
    return {
        "execution_id": view.execution_id,
        "attempt": result.attempt,
        "position": _position(result.position),
        "seq": result.seq,
        "status": view.status,
        "state": view.state,
        "timeline": [
            {
                "attempt": e.attempt,
                "seq": e.seq,
                "ts": e.ts.isoformat(),
                "type": e.type,
                "summary": e.summary,
                "position": _position(e.position),
            }
            for e in result.timeline.entries
        ],
        "mismatches": [
            {"checkpoint_id": m.checkpoint_id, "attempt": m.attempt, "seq": m.seq, **_diff(m.diff)}
            for m in result.mismatches
        ],
    }


def _diff(diff: StateDiff) -> dict[str, Any]:
    return {
        "added": diff.added,
        "removed": diff.removed,
        "changed": {k: {"from": a, "to": b} for k, (a, b) in diff.changed.items()},
    }


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
    until = Until(
        offset=to_offset,
        seq=to_seq,
        checkpoint=to_checkpoint,
        time=parse_time(to_time) if to_time else None,
        attempt=attempt,
    )

    async def load() -> Replayed:
        log = open_log(url)
        reader = open_reader(log)
        try:
            return await history.replay_execution(
                log, execution_id, until, verify=verify, reader=reader
            )
        finally:
            await reader.close()
            await log.close()

    result = run(load())
    if json_:
        typer.echo(orjson.dumps(replay_json(result)).decode())
    else:
        _print_replay(result, verify)
    if result.mismatches:
        raise typer.Exit(EXIT_FAILED)


def _print_replay(result: Replayed, verify: bool) -> None:
    console = Console(highlight=False)
    where = result.position
    at = f" ({where[0]}/{where[1]}@{where[2]})" if where else ""
    console.print(
        f"[bold]{result.view.execution_id}[/] at attempt {result.attempt} seq {result.seq}"
        f"{at}: [bold]{result.view.status}[/]"
    )
    table = Table("attempt", "seq", "time", "what", box=None)
    for entry in result.timeline.entries:
        table.add_row(
            str(entry.attempt), str(entry.seq), entry.ts.strftime("%H:%M:%S.%f")[:-3], entry.summary
        )
    console.print(table)
    print_json(console, "state", result.view.state)
    if verify:
        if not result.mismatches:
            console.print("verified: every checkpoint matches the state its events add up to")
        for m in result.mismatches:
            console.print(f"MISMATCH at {m.checkpoint_id}: {orjson.dumps(_diff(m.diff)).decode()}")


def _reexecute(
    execution_id: str,
    attempt: int | None,
    until_step: str | None,
    live: frozenset[str],
    as_json: bool,
    url: str | None,
) -> None:
    async def go() -> Reexecution:
        log = open_log(url)
        reader = open_reader(log)
        try:
            return await reexecute(
                log, execution_id, attempt=attempt, until_step=until_step, live=live, reader=reader
            )
        finally:
            await reader.close()
            await log.close()

    report = run(go())
    diverged = report.divergence
    if as_json:
        out = {
            "execution_id": report.execution_id,
            "attempt": report.attempt,
            "steps": [vars(s) for s in report.steps],
            "state": report.state,
            "connections": report.connections,
            "divergence": {
                "at": diverged.where,
                "recorded": diverged.expected,
                "now": diverged.actual,
            }
            if diverged
            else None,
        }
        typer.echo(orjson.dumps(out).decode())
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
            console.print(f"DIVERGED at {diverged.where}", markup=False)
            console.print(f"  recorded: {orjson.dumps(diverged.expected).decode()}", markup=False)
            console.print(f"  now:      {orjson.dumps(diverged.actual).decode()}", markup=False)
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

    async def load() -> list[Any]:
        log = open_log(url)
        reader = open_reader(log)
        try:
            return (await history.checkpoints(log, execution_id, attempt, reader))[1]
        finally:
            await reader.close()
            await log.close()

    found = run(load())
    if json_:
        rows = [
            {
                "checkpoint_id": c.checkpoint_id,
                "step": c.step,
                "index": c.index,
                "attempt": c.attempt,
                "seq": c.seq,
                "position": _position(c.position),
                "state": c.state,
            }
            for c in found
        ]
        typer.echo(orjson.dumps(rows).decode())
        return
    table = Table(box=None)
    table.add_column("checkpoint", no_wrap=True)  # the id to roll back to: never cut
    for column in ("attempt", "seq", "step", "position", "state keys"):
        table.add_column(column)
    for c in found:
        pos = f"{c.position[0]}/{c.position[1]}@{c.position[2]}" if c.position else ""
        keys = ", ".join(c.state or {})
        table.add_row(c.checkpoint_id, str(c.attempt), str(c.seq), c.step or "", pos, keys)
    Console().print(table)


def diff_command(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    first: Annotated[str, typer.Argument(help="The checkpoint to compare from.")],
    second: Annotated[str, typer.Argument(help="The checkpoint to compare to.")],
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """What changed in the state between two checkpoints (of any attempts)."""

    async def load() -> StateDiff:
        log = open_log(url)
        reader = open_reader(log)
        try:
            return await history.diff(log, execution_id, first, second, reader)
        finally:
            await reader.close()
            await log.close()

    found = run(load())
    if json_:
        typer.echo(orjson.dumps(_diff(found)).decode())
        return
    if not found:
        typer.echo(f"no difference between {first} and {second}")
    for key, value in found.added.items():
        typer.echo(f"+ {key} = {orjson.dumps(value).decode()}")
    for key, value in found.removed.items():
        typer.echo(f"- {key} = {orjson.dumps(value).decode()}")
    for key, (before, after) in found.changed.items():
        typer.echo(f"~ {key}: {orjson.dumps(before).decode()} -> {orjson.dumps(after).decode()}")


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
    overrides = service.parse_inputs(set_ or [], flag="--set")
    added = service.parse_inputs(add or [], flag="--add")

    async def send() -> dict[str, Any]:
        log = open_log(url)
        reader = open_reader(log)
        try:
            request = await history.rollback(
                log, execution_id, to, overrides, reader, added=added, as_node=as_node
            )
            status = "requested"
            if follow:
                status = await _follow_attempt(log, request, json_)
            else:
                await say_if_queued(log, execution_id, "the rollback")
            return {
                "execution_id": execution_id,
                "attempt": request.attempt,
                "from_checkpoint": to,
                "status": status,
            }
        finally:
            await reader.close()
            await log.close()

    result = run(send())
    if json_:
        typer.echo(orjson.dumps(result).decode())
    else:
        typer.echo(
            f"{execution_id}: rollback to {to} as attempt {result['attempt']}: {result['status']}"
        )
    if follow and result["status"] != "completed":
        raise typer.Exit(EXIT_FAILED)


async def _follow_attempt(log: Any, request: history.RollbackRequest, quiet: bool) -> str:
    execution_id = request.view.execution_id
    local = LocalWorker(log, execution_id)
    outcome: str | None = None

    def done(view: ExecutionView) -> bool:
        nonlocal outcome
        outcome = request.outcome(view)
        return outcome is not None

    try:
        async for event in service.follow(log, execution_id, check=local.check, done=done):
            if not quiet and (
                event.attempt >= request.attempt or event.type == "execution.resumed"
            ):
                typer.echo(f"  a{event.attempt} #{event.seq} {describe(event)}")
    finally:
        await local.close()
    return outcome or "unknown"


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command("replay")(replay_command)
    app.command("checkpoints")(checkpoints_command)
    app.command("diff")(diff_command)
    app.command("rollback")(rollback_command)
