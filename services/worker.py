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

from omium.processors.alerts import ALERT_TOPICS  # alerts (issue 14)
from omium.processors.outage import GIVE_UP_AFTER
from omium.processors.projector import Projector
from omium.processors.view_store import views_beside
from omium.processors.worker import Worker
from omium.producers import BrokerCluster, EventLog, Settings, open_log
from omium.schemas import ConfigError
from omium.schemas.topics import TOPICS, VIEWS_CHANGELOG
from omium.services.alerts import evaluator as alert_evaluator  # alerts (issue 14)
from omium.services.alerts import processors_env  # alerts (issue 14)
from omium.services.local import Notify

#: seconds the processors child is given to stop after SIGTERM before it is killed
CHILD_GRACE = 15.0


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
    and the alert rules (``alerts``, else ``OMIUM_ALERTS``, else the defaults) evaluated:
    here on the embedded log, by the processors child's faust app on Kafka.
    """
    log = open_log(url)
    # --- alerts (issue 14): rules checked before any run starts (a bad file: exit 2)
    evaluator, child_env = None, {}
    if processors and isinstance(log, BrokerCluster):  # the processors child evaluates them
        try:
            child_env = processors_env(alerts)
        except BaseException:
            await log.close()
            raise
    elif processors:
        try:
            evaluator = alert_evaluator(log, alerts)
        except BaseException:
            await log.close()
            raise
    # --- end alerts
    worker = Worker(
        log, concurrency=concurrency, notify=notify, give_up_after=give_up_after_setting()
    )
    notify(
        f"worker {worker.name} on {log.url} (concurrency {concurrency}; rides out log "
        f"outages up to {worker.outage.give_up_after:g} s)"
    )
    stop = asyncio.Event()
    side: list[asyncio.Task[None]] = []
    children: list[subprocess.Popen[bytes]] = []
    if processors and isinstance(log, BrokerCluster):
        children.append(spawn_processors(log.url, child_env))
        side.append(asyncio.create_task(_supervise(children, log.url, stop, notify, child_env)))
    elif processors:
        side.append(asyncio.create_task(projector(log).run(stop)))
        side += analytics_beside(log, stop, notify)  # analytics (issue 13), when set up
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
        await asyncio.to_thread(stop_children, children)
        await log.close()


def give_up_after_setting() -> float:
    """``OMIUM_WORKER_GIVE_UP_AFTER``: seconds a worker rides out an unreachable log."""
    raw = os.environ.get("OMIUM_WORKER_GIVE_UP_AFTER")
    if raw is None:
        return GIVE_UP_AFTER
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(
            f"OMIUM_WORKER_GIVE_UP_AFTER={raw!r} is not a number of seconds"
        ) from None
    if value <= 0:
        raise ConfigError(f"OMIUM_WORKER_GIVE_UP_AFTER={raw!r} must be positive")
    return value


def stop_children(children: list[subprocess.Popen[bytes]], grace: float = CHILD_GRACE) -> None:
    """SIGTERM each child; SIGKILL the ones still there after ``grace`` seconds."""
    for proc in children:
        if proc.poll() is None:
            proc.terminate()
    for proc in children:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def projector(log: EventLog) -> Projector:
    """The embedded projector, on the view store beside the log file."""
    return Projector(log, views_beside(log))


async def serve_embedded_projections(log: EventLog, notify: Notify) -> None:
    """Keep the view store beside the embedded log caught up until cancelled."""
    runner = projector(log)
    notify(f"processors on {log.url} (views in {runner.store.path})")
    side = analytics_beside(log, asyncio.Event(), notify)  # held: an unheld task may vanish
    try:
        await runner.run(asyncio.Event())
    finally:
        for task in side:
            task.cancel()
        runner.store.close()
        await log.close()


def analytics_beside(
    log: EventLog, stop: asyncio.Event, notify: Notify
) -> list[asyncio.Task[None]]:
    """The analytics sink as a task beside a worker or the projector, when analytics are set up.

    Set up: ``OMIUM_ANALYTICS_URL`` is set or the embedded store exists (see
    :func:`~omium.processors.analytics.sink_for`); otherwise nothing runs and nothing is paid.
    """
    # an optional extra (clickhouse-connect, chDB), imported when analytics run: at import
    # time it cost every `omium` command ~0.1 s, enough to slow workers tests SIGKILL early
    from omium.processors.analytics import sink_for

    sink = sink_for(log)
    if sink is None:
        return []
    notify(f"analytics into {sink.place.url}")
    return [asyncio.create_task(sink.run(stop))]


async def serve_analytics(log: EventLog, settings: Settings, notify: Notify) -> None:
    """``omium processors --only analytics``: the sink alone, on either log, until SIGTERM."""
    from omium.processors.analytics import AnalyticsSink, open_place  # see analytics_beside

    sink = AnalyticsSink(log, open_place(settings))
    notify(f"processors on {log.url}: analytics into {sink.place.url}")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await sink.run(stop)
    finally:
        sink.place.close()
        await log.close()


def serve_processors(
    url: str | None,
    *,
    instance_id: str | None,
    static: bool,
    log_level: str,
    notify: Notify,
    only: str | None = None,
) -> None:
    """``omium processors``: faust on a Kafka cluster, else the embedded projector.

    ``only="analytics"``: the analytics sink alone (on either log).
    """
    if only not in (None, "analytics"):
        raise ConfigError(f"--only {only!r}: no such processor", hint="use --only analytics")
    settings = Settings.load()
    log = open_log(url, settings)
    if only == "analytics":
        asyncio.run(serve_analytics(log, settings, notify))
        return
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
    app = build_app(
        log.bootstrap,
        prefix=log.prefix,
        instance_id=instance_id,
        datadir=datadir,
        security=log.security,
    )
    notify(f"processors on {log.url} (faust app {app.conf.id})")
    worker = faust.Worker(app, loglevel=log_level, redirect_stdouts=False)
    worker.execute_from_commandline()  # ends in SystemExit (0 after SIGTERM or Ctrl-C)


async def _create_topics(log: EventLog) -> None:
    try:
        # the changelog too: faust creating it itself races its first reads of it
        await log.create_topics([*TOPICS, VIEWS_CHANGELOG, *ALERT_TOPICS])
    finally:
        await log.close()


def spawn_processors(url: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``omium processors`` in a child process (``omium worker`` on Kafka starts one).

    On Linux the child gets SIGTERM when its parent dies, even by SIGKILL, so a killed
    worker leaves no orphaned processor behind.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "omium.cli", "processors", "--url", url],
        env={**os.environ, **(env or {})},
        preexec_fn=_term_with_parent if sys.platform == "linux" else None,
    )


async def _supervise(
    children: list[subprocess.Popen[bytes]],
    url: str,
    stop: asyncio.Event,
    notify: Notify,
    env: dict[str, str] | None = None,
) -> None:
    """Start the processors again when they exit on an error (newest: ``children[-1]``)."""
    while not stop.is_set():
        await asyncio.sleep(1.0)
        code = children[-1].poll()
        if code is not None and code != 0 and not stop.is_set():
            notify(f"processors exited ({code}); starting them again")
            children.append(spawn_processors(url, env))


def _term_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # the child then outlives a SIGKILLed parent; a normal stop still ends it


_PR_SET_PDEATHSIG = 1
