"""The alert rules on Kafka: faust agents over ``omium.events`` with changelogged tables.

Registered on the projections' faust app (:func:`register`), so ``omium processors`` (the
child ``omium worker`` starts on Kafka) runs them, partitions spread over its processes by
the consumer group. The rules are the same pure code as the embedded runner's
(:func:`~omium.projections.alerts.evaluate` and :func:`~omium.projections.alerts.tick`).

- ``alert_runs`` reads ``omium.events`` in batches. The rules about one execution keep
  that execution's :class:`~omium.projections.alerts.RunState` in the ``alert-runs``
  table, keyed by execution id, its changelog on the partition of the execution's events:
  the state moves with the partition on a rebalance and is rebuilt on a restart.
- The rules over many executions (``failure_rate``, ``cost_burn``, ``execution_failed``
  with a ``count``, ``step_latency`` with a ``factor``) need every event of a tenant:
  ``alert_runs`` forwards the few events they read (calls, step ends, run ends), with the
  run's workflow and attempt, to the internal topic ``alerts-by-tenant`` keyed by tenant,
  and ``alert_tenants`` evaluates them with the tenant's windows in the ``alert-tenants``
  table.
- A timer (every :data:`TICK_EVERY` s) runs the time-based rules (``stuck``,
  ``waiting_too_long``, windows sliding) with the wall clock, over the entries of the
  partitions this process owns and has caught up with (a run half-read from a backlog is
  not stuck).

Once per condition. A batch (or a tick) appends its alerts to ``omium.alerts`` and its
forwards, waits for the acks, then writes the states and the partitions' next offsets
(:class:`~.faust_state.Markers`) to the changelogs and waits for those acks; only then are
its events acknowledged. A record below its partition's marker is skipped, so a
redelivered event changes nothing; alert ids (and event ids) are derived from the
condition. A crash after the alerts' acks and before the changelog's makes the next owner
evaluate the batch again and append the *same* records again (same ``event_id``, same
``alert_id``): readers dedupe by ``alert_id``, webhooks get ``Idempotency-Key``. One lock
serialises batches and ticks (each reads, awaits, then writes the same entries).

Sinks: each alert appended is handed to a :class:`~.sinks.Dispatcher` at once; a delivery
in flight when the process dies is not made again (the log has the alert).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import faust

from omium.processors.alerts.config import load_rules, rules_path
from omium.processors.alerts.faust_state import (
    BY_TENANT,
    RUNS,
    TENANTS,
    Entries,
    Markers,
    SkippedRecords,
    TenantState,
    evaluate_forwarded,
    evaluate_run,
    forward_record,
    forwards,
    is_marker,
    marker_key,
    read_forward,
)
from omium.processors.alerts.members import spans_executions
from omium.processors.alerts.sinks import Dispatcher, sinks_for
from omium.producers import EventLog, KafkaSecurity, Settings, partition_for
from omium.producers.kafka import KafkaLog
from omium.producers.pricing import cost_usd
from omium.projections.alerts import KEEP_FINISHED, Alert, AlertState, RunState, tick
from omium.schemas import InvalidEvent, decode
from omium.schemas.alert_rules import Rule
from omium.schemas.topics import EVENTS, VIEWS_CHANGELOG

logger = logging.getLogger("omium.processors.alerts")

#: records evaluated per batch, and how long a batch may wait to fill (seconds; the
#: projections' numbers: 0.2 s filled batches 3x fuller here, and moved the rate by < 5 %)
BATCH, WITHIN = 500, 0.05
#: seconds between two runs of the time-based rules
TICK_EVERY = 0.5
#: seconds the deliveries in flight get when the process stops
DRAIN = 5.0


def register(
    app: faust.App,
    events: Any,
    *,
    prefix: str,
    log: EventLog,
    restart: Callable[[], NoReturn],
    rules: Sequence[Rule] | None = None,
) -> FaustAlerts | None:
    """Add the alert agents and their timer to ``app`` (None when no rule is loaded).

    Without ``rules``, only when a rules file is configured (``OMIUM_ALERTS``): the default
    rules are not evaluated on Kafka unless asked for (docs/alerts.md).

    ``events`` is the app's topic of ``omium.events`` (raw bytes); ``log`` the cluster's
    log, to append alerts; ``restart`` replaces the process unacknowledged (called when
    a batch cannot be evaluated). ``rules``: default ``OMIUM_ALERTS``, else the defaults.

    Raises:
        InvalidSpec: the rules file is not valid (one line; exit 2).
    """
    if rules is None:
        configured = Settings.load().alerts
        if configured is None:
            # only for a rules file named (OMIUM_ALERTS, `omium worker --alerts`): beside the
            # projections the agents slow their fold and change how faust stops (below), so
            # they are not on by default until they run as a consumer group of their own
            return None
        rules = load_rules(rules_path(configured)).rules
    if not rules:
        return None
    alerts = FaustAlerts(app, events, prefix=prefix, log=log, rules=rules)
    # With two agents reading omium.events, a stop (SIGTERM) waited forever here: faust
    # clears the channels' queues when it stops, so an event one agent had taken and the
    # other still had queued is never acknowledged, and the consumer waits for it ("Waiting
    # for tasks", 2 stops in 3 hung; none without these agents). Not waiting is safe: what
    # is not acknowledged comes again to the next owner, and both agents skip what they
    # had evaluated (their next-offset markers).
    app.conf.stream_wait_empty = False

    async def guarded(name: str, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            if app.should_stop or alerts.stopping:
                # stopping (SIGTERM): the clients close under the agents, and an exec
                # here would start the process again instead of ending it (seen here:
                # workers that never stopped); nothing unacked is lost by ending
                logger.info("omium alerts: %s interrupted by the stop", name)
                return
            raise

    async def guarded_or_restart(name: str, work: Awaitable[None]) -> None:
        try:
            await guarded(name, work)
        except SkippedRecords as hole:
            logger.warning("omium alerts: %s; restarting unacked", hole)
            restart()
        except Exception:  # nothing of the batch is acknowledged: its events come again
            logger.exception("omium alerts: %s failed; restarting unacked", name)
            restart()

    @app.agent(events, name="omium-alert-runs")
    async def alert_runs(stream: faust.StreamT[bytes]) -> None:
        # take_events exists on faust's Stream, not on the StreamT protocol it is typed as
        async for batch in stream.take_events(BATCH, within=WITHIN):  # type: ignore[attr-defined]
            await guarded_or_restart("a batch of events", alerts.on_events(batch))

    if alerts.across:

        @app.agent(alerts.by_tenant, name="omium-alert-tenants")
        async def alert_tenants(stream: faust.StreamT[bytes]) -> None:
            async for batch in stream.take_events(BATCH, within=WITHIN):  # type: ignore[attr-defined]
                await guarded_or_restart("a batch of forwarded events", alerts.on_forwarded(batch))

    @app.on_before_shutdown.connect
    async def closing(sender: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        alerts.stopping = True
        # deliveries in flight get a few seconds (a stopping worker must not hang on one)
        await alerts.dispatcher.drain(DRAIN)
        await log.close()

    @app.timer(TICK_EVERY, name="omium-alert-timers")  # type: ignore[untyped-decorator]
    async def timers() -> None:
        if not (app.should_stop or alerts.stopping):
            await guarded_or_restart("the timers", alerts.on_tick())

    return alerts


def alerts_log(bootstrap: str, prefix: str, security: KafkaSecurity) -> EventLog:
    """The log the agents append alerts (and failed deliveries) to: the app's cluster."""
    return KafkaLog(bootstrap, topic_prefix=prefix, security=security, create_topics=False)


class FaustAlerts:
    """The agents' work, one batch or tick at a time (see the module docs)."""

    def __init__(
        self, app: faust.App, events: Any, *, prefix: str, log: EventLog, rules: Sequence[Rule]
    ) -> None:
        self.app = app
        self.log = log
        self.per = [r for r in rules if not spans_executions(r)]
        self.across = [r for r in rules if spans_executions(r)]
        self.forwarded = forwards(self.across)
        raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes}
        self.events_topic = prefix + EVENTS.name
        self.runs = app.Table(RUNS, partitions=EVENTS.partitions, **raw)
        self.tenants = app.Table(TENANTS, partitions=EVENTS.partitions, **raw)
        self.by_tenant = app.topic(
            prefix + BY_TENANT,
            partitions=EVENTS.partitions,
            internal=True,
            key_serializer="raw",
            value_serializer="raw",
            **raw,
        )
        self.run_entries: Entries[RunState] = Entries(RunState)
        self.tenant_entries: Entries[TenantState] = Entries(TenantState, size=1000)
        self.dispatcher = Dispatcher(log, sinks_for(rules), lambda _: None)
        self.lock = asyncio.Lock()
        self.appended = 0
        #: set when the process stops: nothing restarts it then
        self.stopping = False
        self._scratch = AlertState()
        self._sent = 0
        self._views_changelog = prefix + VIEWS_CHANGELOG.name
        self._tracking = False

    async def _keep_views_in_metadata(self) -> None:
        """Keep the projections' changelog in the metadata of faust's producer client.

        aiokafka's client asks metadata for every topic until something is sent to a
        topic with a partition given; from then on only for the topics sent to. The
        projections write views with ``send_changelog(None, …)``, whose partitioner reads
        that metadata at once: if these agents send first, the views' changelog is
        missing from it and the projections' first batch fails (``TypeError: 'NoneType'
        object is not iterable`` in aiokafka's ``_partition``; seen here). Adding it to the
        tracked topics before the first send avoids that. faust exposes no public handle
        on its aiokafka producer; without one this is skipped. (The lasting fix is the
        projections giving the partition, ``partition_for(execution_id, …)``.)
        """
        if self._tracking:
            return
        self._tracking = True
        producer = getattr(self.app.producer, "_producer", None)
        client = getattr(producer, "client", None)
        if client is not None:
            await client.add_topic(self._views_changelog)

    # -- batches ----------------------------------------------------------------------

    async def on_events(self, batch: Sequence[Any]) -> None:
        """Evaluate a batch of ``omium.events`` records with the rules about one execution."""
        async with self.lock:
            await self._keep_views_in_metadata()
            fresh = Markers(self.runs).fresh(batch)
            if not fresh:
                return
            alerts: list[Alert] = []
            touched: dict[bytes, tuple[int, RunState]] = {}
            forward: list[tuple[str, bytes]] = []
            for record in fresh:
                try:
                    event = decode(record.value)
                except InvalidEvent:
                    continue  # poison: the projections set it aside on omium.dlq
                key, partition = event.execution_id.encode(), record.message.partition
                known = touched[key][1] if key in touched else self._run(key)
                run, raised = evaluate_run(self.per, self._scratch, known, event, cost_usd)
                alerts += raised
                touched[key] = (partition, run)
                if isinstance(event, self.forwarded):
                    forward.append((event.tenant_id, forward_record(run, record.value)))
            # what the batch produced (alerts, forwards) is acknowledged in one wait, before
            # the states that say it was produced: a crash between the two repeats outputs
            # (the same records), never loses them. The partition given: faust's producer
            # may not know the topic's metadata yet
            parts = EVENTS.partitions
            sent = [
                self.by_tenant.send_soon(
                    key=tenant.encode(), value=value, partition=partition_for(tenant, parts)
                )
                for tenant, value in forward
            ]
            await asyncio.gather(self._publish(alerts), *sent)
            writes = [self._write_run(key, p, run) for key, (p, run) in touched.items()]
            await asyncio.gather(*writes, *self._markers(self.runs, fresh))

    async def on_forwarded(self, batch: Sequence[Any]) -> None:
        """Evaluate forwarded events with the rules over many executions, per tenant."""
        async with self.lock:
            await self._keep_views_in_metadata()
            fresh = Markers(self.tenants).fresh(batch)
            if not fresh:
                return
            alerts: list[Alert] = []
            touched: dict[bytes, tuple[int, TenantState]] = {}
            for record in fresh:
                workflow, attempt, raw = read_forward(record.value)
                event = decode(raw)
                key = event.tenant_id.encode()
                state = touched[key][1] if key in touched else self._tenant(key)
                alerts += evaluate_forwarded(self.across, state, workflow, attempt, event, cost_usd)
                touched[key] = (record.message.partition, state)
            await self._publish(alerts)
            writes = [self._write_tenant(key, p, s) for key, (p, s) in touched.items()]
            await asyncio.gather(*writes, *self._markers(self.tenants, fresh))

    # -- timers -----------------------------------------------------------------------

    async def on_tick(self, now: datetime | None = None) -> None:
        """Run the time-based rules over the entries this process owns and caught up with."""
        async with self.lock:
            await self._keep_views_in_metadata()
            now = now or datetime.now(UTC)
            alerts: list[Alert] = []
            writes: list[Awaitable[Any]] = []
            owned = self._caught_up(self.events_topic, self.runs)
            scratch = self._scratch
            for key in list(self.runs.data) if owned else ():
                if is_marker(key) or key not in self.runs.data:
                    continue
                partition, run = self.run_entries.get(key, self.runs.data[key])
                if partition not in owned or not _may_tick(run, now):
                    continue
                eid = key.decode()
                scratch.runs.clear()
                scratch.runs[eid] = run
                raised = tick(self.per, scratch, now)
                alerts += raised
                if eid not in scratch.runs:
                    writes.append(self._delete_run(key, partition))
                elif raised:
                    writes.append(self._write_run(key, partition, run))
            if self.across:
                owned = self._caught_up(self.by_tenant.get_topic_name(), self.tenants)
                for key in list(self.tenants.data) if owned else ():
                    if is_marker(key) or key not in self.tenants.data:
                        continue
                    partition, state = self.tenant_entries.get(key, self.tenants.data[key])
                    if partition in owned:
                        raised = tick(self.across, state, now)
                        alerts += raised
                        if raised:
                            writes.append(self._write_tenant(key, partition, state))
            await self._publish(alerts)
            await asyncio.gather(*writes)

    def _caught_up(self, topic: str, table: Any) -> set[int]:
        """This process's active partitions of ``topic`` evaluated up to their end."""
        out = set()
        consumer = self.app.consumer
        for tp in consumer.assignment():
            if tp.topic != topic:
                continue
            try:
                end = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - not known yet: not caught up
                continue
            expected = Markers(table).expected(tp.partition)
            if end is not None and (expected or 0) >= end:
                out.add(tp.partition)
        return out

    # -- writes -----------------------------------------------------------------------

    async def _publish(self, alerts: Sequence[Alert]) -> None:
        """Append ``alerts`` to ``omium.alerts`` (acknowledged), then hand them to sinks."""
        if not alerts:
            return
        events = [a.event() for a in alerts]
        await self.log.append_batch(events)
        self.appended += len(events)
        for alert, event in zip(alerts, events, strict=True):
            self._sent += 1
            self.dispatcher.submit(self._sent, alert.rule, event)

    def _run(self, key: bytes) -> RunState | None:
        stored = self.runs.data.get(key)
        return self.run_entries.get(key, stored)[1] if stored is not None else None

    def _tenant(self, key: bytes) -> TenantState:
        stored = self.tenants.data.get(key)
        return self.tenant_entries.get(key, stored)[1] if stored is not None else TenantState()

    def _write_run(self, key: bytes, partition: int, run: RunState) -> Awaitable[Any]:
        stored = self.run_entries.encode(key, partition, run)
        self.runs.data[key] = stored
        return self.runs.send_changelog(partition, key, stored)

    def _delete_run(self, key: bytes, partition: int) -> Awaitable[Any]:
        self.runs.data.pop(key, None)
        self.run_entries.drop(key)
        return self.runs.send_changelog(partition, key, None, value_serializer="raw")

    def _write_tenant(self, key: bytes, partition: int, state: TenantState) -> Awaitable[Any]:
        stored = self.tenant_entries.encode(key, partition, state)
        self.tenants.data[key] = stored
        return self.tenants.send_changelog(partition, key, stored)

    @staticmethod
    def _markers(table: Any, fresh: Sequence[Any]) -> list[Awaitable[Any]]:
        sent = []
        for partition, offset in Markers.after(fresh).items():
            key, value = marker_key(partition), str(offset).encode()
            table.data[key] = value
            sent.append(table.send_changelog(partition, key, value))
        return sent


def _may_tick(run: RunState, now: datetime) -> bool:
    """Whether :func:`tick` can change ``run`` now (most runs it cannot: skip them cheaply)."""
    if run.status == "finished":
        return run.last_ts is not None and now - run.last_ts > KEEP_FINISHED
    return run.status in ("running", "waiting")
