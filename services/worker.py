"""Serving a log: ``omium worker`` (runs, views beside) and ``omium processors`` (views).

On Kafka the projections are a faust-streaming worker in a child process, started again
when it exits on an error (it does on purpose, to have a batch delivered again); on the
embedded log the projector runs in the worker's own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from omium.processors.projector import Projector
from omium.processors.view_store import views_beside
from omium.processors.worker import Worker
from omium.producers import BrokerCluster, EventLog, Settings, open_log
from omium.schemas import ConfigError
from omium.schemas.topics import TOPICS, VIEWS_CHANGELOG
from omium.services.alerts import evaluator as alert_evaluator  # alerts (issue 14)
from omium.services.local import Notify


async def serve_worker(
    url: str | None,
    *,
    concurrency: int,
    processors: bool,
    notify: Notify,
    alerts: Path | None = None,
) -> None:
    """Run executions from the command topic until SIGTERM (or cancellation).

    On SIGTERM each run stops at its next step boundary, everything it did recorded, and
    the next worker continues it. With ``processors`` the views are kept up to date too,
    and on the embedded log the alert rules (``alerts``, else the default rules) evaluated.
    """
    log = open_log(url)
    # --- alerts (issue 14): rules checked before any run starts (a bad file: exit 2)
    evaluator = None
    if processors and not isinstance(log, BrokerCluster):
        try:
            evaluator = alert_evaluator(log, alerts)
        except BaseException:
            await log.close()
            raise
    # --- end alerts
    worker = Worker(log, concurrency=concurrency, notify=notify)
    notify(f"worker {worker.name} on {log.url} (concurrency {concurrency})")
    stop = asyncio.Event()
    side: list[asyncio.Task[None]] = []
    children: list[subprocess.Popen[bytes]] = []
    if processors and isinstance(log, BrokerCluster):
        children.append(spawn_processors(log.url))
        side.append(asyncio.create_task(_supervise(children, log.url, stop, notify)))
    elif processors:
        side.append(asyncio.create_task(projector(log).run(stop)))
    if evaluator is not None:  # alerts (issue 14)
        side.append(asyncio.create_task(evaluator.run(stop)))

    def terminate() -> None:
        notify("SIGTERM: stopping runs at their step boundaries")
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


def projector(log: EventLog) -> Projector:
    """The embedded projector, on the view store beside the log file."""
    return Projector(log, views_beside(log))


async def serve_embedded_projections(log: EventLog, notify: Notify) -> None:
    """Keep the view store beside the embedded log caught up until cancelled."""
    runner = projector(log)
    notify(f"processors on {log.url} (views in {runner.store.path})")
    try:
        await runner.run(asyncio.Event())
    finally:
        runner.store.close()
        await log.close()


def serve_processors(
    url: str | None,
    *,
    instance_id: str | None,
    static: bool,
    log_level: str,
    notify: Notify,
) -> None:
    """``omium processors``: faust on a Kafka cluster, else the embedded projector."""
    settings = Settings.load()
    log = open_log(url, settings)
    if not isinstance(log, BrokerCluster):  # no cluster for faust to join: fold in-process
        asyncio.run(serve_embedded_projections(log, notify))
        return
    serve_faust(
        log, settings, instance_id=instance_id, static=static, log_level=log_level, notify=notify
    )


def serve_faust(
    log: BrokerCluster,
    settings: Settings,
    *,
    instance_id: str | None,
    static: bool,
    log_level: str,
    notify: Notify,
) -> None:
    """Run the faust-streaming projections on ``log``'s cluster (ends in ``SystemExit``)."""
    asyncio.run(_create_topics(log))
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
    app = build_app(log.bootstrap, prefix=log.prefix, instance_id=instance_id, datadir=datadir)
    notify(f"processors on {log.url} (faust app {app.conf.id})")
    worker = faust.Worker(app, loglevel=log_level, redirect_stdouts=False)
    worker.execute_from_commandline()  # ends in SystemExit (0 after SIGTERM or Ctrl-C)


async def _create_topics(log: EventLog) -> None:
    try:
        # the changelog too: faust creating it itself races its first reads of it
        await log.create_topics([*TOPICS, VIEWS_CHANGELOG])
    finally:
        await log.close()


def spawn_processors(url: str) -> subprocess.Popen[bytes]:
    """``omium processors`` in a child process (``omium worker`` on Kafka starts one).

    On Linux the child gets SIGTERM when its parent dies, even by SIGKILL, so a killed
    worker leaves no orphaned processor behind.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "omium.cli", "processors", "--url", url],
        env={**os.environ},
        preexec_fn=_term_with_parent if sys.platform == "linux" else None,
    )


async def _supervise(
    children: list[subprocess.Popen[bytes]], url: str, stop: asyncio.Event, notify: Notify
) -> None:
    """Start the processors again when they exit on an error (newest: ``children[-1]``)."""
    while not stop.is_set():
        await asyncio.sleep(1.0)
        code = children[-1].poll()
        if code is not None and code != 0 and not stop.is_set():
            notify(f"processors exited ({code}); starting them again")
            children.append(spawn_processors(url))


def _term_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # the child then outlives a SIGKILLed parent; a normal stop still ends it


_PR_SET_PDEATHSIG = 1
