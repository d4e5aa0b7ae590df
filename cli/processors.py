"""``omium processors``: run the projection processors (faust on Kafka, the projector embedded)."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
from typing import Annotated

import typer

from omium.cli.aio import UrlOpt, run
from omium.processors.projector import Projector
from omium.processors.view_store import views_beside
from omium.producers import BrokerCluster, EventLog, Settings, open_log
from omium.schemas import ConfigError
from omium.schemas.topics import TOPICS, VIEWS_CHANGELOG


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
    settings = Settings.load()
    log = open_log(url, settings)
    if only is not None:
        if only != "analytics":
            raise ConfigError(f"--only {only!r}: no such processor", hint="use --only analytics")
        run(_analytics(log, settings))
        return
    if not isinstance(log, BrokerCluster):  # no cluster for faust to join: fold in-process
        run(_embedded(log))
        return
    bootstrap, prefix = log.bootstrap, log.prefix
    run(_create_topics(log))
    try:
        import faust

        from omium.processors.faust_app import build_app
    except ImportError:
        raise ConfigError(
            "the Kafka processors need faust-streaming", hint="pip install 'omium[kafka]'"
        ) from None
    if static and instance_id is None:
        instance_id = f"{socket.gethostname()}-projections"
    datadir = settings.home / "faust"
    try:
        datadir.mkdir(parents=True, exist_ok=True)  # faust makes only the last level
    except OSError as exc:
        raise ConfigError(
            f"cannot create {datadir}: {exc.strerror}", hint="set OMIUM_HOME to a writable folder"
        ) from None
    app = build_app(bootstrap, prefix=prefix, instance_id=instance_id, datadir=datadir)
    typer.echo(f"omium processors on {log.url} (faust app {app.conf.id})", err=True)
    worker = faust.Worker(app, loglevel=log_level, redirect_stdouts=False)
    worker.execute_from_commandline()  # ends in SystemExit (0 after SIGTERM or Ctrl-C)


async def _create_topics(log: EventLog) -> None:
    try:
        # the changelog too: faust creating it itself races its first reads of it
        await log.create_topics([*TOPICS, VIEWS_CHANGELOG])
    finally:
        await log.close()


def projector(log: EventLog) -> Projector:
    """The embedded projector, on the view store beside the log file."""
    return Projector(log, views_beside(log))


async def _embedded(log: EventLog) -> None:
    runner = projector(log)
    typer.echo(f"omium processors on {log.url} (views in {runner.store.path})", err=True)
    side = analytics_beside(log, asyncio.Event())  # held: a task nobody holds may vanish
    try:
        await runner.run(asyncio.Event())
    finally:
        for task in side:
            task.cancel()
        runner.store.close()
        await log.close()


def analytics_beside(log: EventLog, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """The analytics sink as a task beside a worker or the projector, when analytics are set up.

    Set up: ``OMIUM_ANALYTICS_URL`` is set or the embedded store exists (see
    :func:`~omium.processors.analytics.sink_for`); otherwise nothing runs and nothing is paid.
    """
    from omium.processors.analytics import sink_for  # see _analytics

    sink = sink_for(log)
    if sink is None:
        return []
    typer.echo(f"omium: analytics into {sink.place.url}", err=True)
    return [asyncio.create_task(sink.run(stop))]


async def _analytics(log: EventLog, settings: Settings) -> None:
    """``--only analytics``: the sink alone, on either log, until SIGTERM or Ctrl-C."""
    # imported when analytics run: with the CLI it cost every `omium` command ~0.1 s, enough
    # to slow workers that tests SIGKILL within seconds of starting
    from omium.processors.analytics import AnalyticsSink, open_place

    sink = AnalyticsSink(log, open_place(settings))
    typer.echo(f"omium processors on {log.url}: analytics into {sink.place.url}", err=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await sink.run(stop)
    finally:
        sink.place.close()
        await log.close()


def spawn(url: str) -> subprocess.Popen[bytes]:
    """``omium processors`` in a child process (``omium worker`` on Kafka starts one).

    On Linux the child gets SIGTERM when its parent dies, even by SIGKILL, so a killed
    worker leaves no orphaned processor behind.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "omium.cli", "processors", "--url", url],
        env={**os.environ},
        preexec_fn=_term_with_parent if sys.platform == "linux" else None,
    )


async def supervise(children: list[subprocess.Popen[bytes]], url: str, stop: asyncio.Event) -> None:
    """Start the processors again when they exit on an error.

    They exit on purpose when they cannot fold a batch (see ``faust_app``), to have it
    delivered again; the newest child is ``children[-1]``.
    """
    while not stop.is_set():
        await asyncio.sleep(1.0)
        code = children[-1].poll()
        if code is not None and code != 0 and not stop.is_set():
            typer.echo(f"omium worker: processors exited ({code}); starting them again", err=True)
            children.append(spawn(url))


def _term_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # the child then outlives a SIGKILLed parent; a normal stop still ends it


_PR_SET_PDEATHSIG = 1
