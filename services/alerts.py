"""Alerts: list and follow what the rules raised, show and check the rules in force.

Read from ``omium.alerts`` (the log is the truth; a restarted evaluator may have written an
alert twice, so rows are deduplicated by ``alert_id``). The models here are the JSON of
``omium alerts --json`` and of ``GET /api/v1/alerts``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from omium.processors.alerts import (
    AlertEvaluator,
    AlertStore,
    Member,
    alerts_beside,
    load_rules,
    rules_path,
    sinks_for,
)
from omium.producers import EventLog, LocalFile, Record, Settings
from omium.schemas import AlertRaised, AlertResolved, ConfigError, InvalidEvent
from omium.schemas.topics import ALERTS


class AlertRow(BaseModel):
    """One alert, as ``omium alerts`` lists it."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    rule: str
    kind: str
    severity: str
    tenant_id: str
    execution_id: str
    attempt: int
    message: str
    raised_at: datetime
    resolved_at: datetime | None = None
    triggered_by: list[str] = Field(default_factory=list)
    details: dict[str, JsonValue] = Field(default_factory=dict)


class RuleRow(BaseModel):
    """One loaded rule: its name, kind, severity, filters, parameters and sinks."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    severity: str
    workflow: str | None
    tenant: str | None
    params: dict[str, JsonValue]
    sinks: list[str]


class RulesReport(BaseModel):
    """The rules file in force and its rules, validated."""

    model_config = ConfigDict(frozen=True)

    path: str
    rules: list[RuleRow]


class AlertFilter(BaseModel):
    """Which alerts to show (every field optional)."""

    model_config = ConfigDict(frozen=True)

    since: datetime | None = None
    rule: str | None = None
    execution_id: str | None = None
    tenant_id: str | None = None

    def keeps(self, row: AlertRow) -> bool:
        """Whether ``row`` passes the filter."""
        return (
            (self.since is None or row.raised_at >= self.since)
            and (self.rule is None or row.rule == self.rule)
            and (self.execution_id is None or row.execution_id == self.execution_id)
            and (self.tenant_id is None or row.tenant_id == self.tenant_id)
        )


def rules(path: Path | None = None, settings: Settings | None = None) -> RulesReport:
    """The rules in force (``path``, else ``OMIUM_ALERTS``, else the defaults), checked.

    Raises:
        InvalidSpec: the file is not a valid rules file (one line; exit 2).
    """
    where = rules_path(path, settings)
    loaded = load_rules(where)
    common = {"name", "kind", "severity", "workflow", "tenant", "sinks"}
    rows = [
        RuleRow(
            name=rule.name,
            kind=rule.kind,
            severity=rule.severity,
            workflow=rule.workflow,
            tenant=rule.tenant,
            params=rule.model_dump(mode="json", exclude=common),
            sinks=[_sink_name(s.model_dump(mode="json")) for s in rule.sinks],
        )
        for rule in loaded.rules
    ]
    return RulesReport(path=str(where), rules=rows)


def evaluator(
    log: EventLog,
    path: Path | None = None,
    *,
    settings: Settings | None = None,
    stderr: TextIO | None = None,
) -> AlertEvaluator:
    """The alert processor for ``log`` with the rules in force, checked now.

    Its store sits beside an embedded log's file; for a log without one (Kafka) it is a
    file under ``OMIUM_HOME`` named after the log's URL, so a restart continues.

    Raises:
        InvalidSpec: the rules file is not valid (one line; exit 2).
    """
    settings = settings or Settings.load()
    loaded = load_rules(rules_path(path, settings))
    if isinstance(log, LocalFile):
        store = alerts_beside(log)
    else:
        digest = hashlib.sha256(log.url.encode()).hexdigest()[:12]
        store = AlertStore(str(settings.home / f"alerts-{digest}.db"))
    return AlertEvaluator(log, store, loaded.rules, sinks=sinks_for(loaded.rules, stderr))


def processors_env(path: Path | None, settings: Settings | None = None) -> dict[str, str]:
    """What a Kafka worker's ``omium processors`` child needs to load the rules in force.

    The child's faust app evaluates them (:mod:`omium.processors.alerts.faust_rules`) and
    reads ``OMIUM_ALERTS``; ``path`` (``omium worker --alerts``) becomes that, absolute.
    The rules are checked here, so a bad file stops the worker before any run starts.

    Raises:
        InvalidSpec: the rules file is not valid (one line; exit 2).
    """
    where = rules_path(path, settings)
    load_rules(where)
    return {"OMIUM_ALERTS": str(where.resolve())} if path is not None else {}


def evaluators(
    log: EventLog,
    path: Path | None = None,
    *,
    member: str | None = None,
    settings: Settings | None = None,
    stderr: TextIO | None = None,
) -> list[AlertEvaluator]:
    """The alert processors of ``member`` (``"i/N"``) of a Kafka log; alone: ``[evaluator()]``.

    Member ``i`` evaluates the rules about one execution on its share of the partitions;
    member 0 also the rules across executions, on every partition (see
    :mod:`omium.processors.alerts.members`). Each has its own state file under
    ``OMIUM_HOME``, named after the log's URL, ``i`` and ``N``.

    Raises:
        InvalidSpec: the rules file is not valid (one line; exit 2).
        ConfigError: ``member`` is not ``i/N``, or N > 1 on the embedded log.
    """
    split = Member.parse(member) if member else Member()
    if split.count == 1:
        return [evaluator(log, path, settings=settings, stderr=stderr)]
    if isinstance(log, LocalFile):
        raise ConfigError(
            "--member splits a Kafka log's partitions; the embedded log has one evaluator",
            hint="drop --member (omium worker evaluates the rules on the embedded log)",
        )
    settings = settings or Settings.load()
    loaded = load_rules(rules_path(path, settings))
    per, across = split.split(loaded.rules)
    digest = hashlib.sha256(log.url.encode()).hexdigest()[:12]
    home = settings.home
    out = []
    if per:
        store = AlertStore(str(home / f"alerts-{digest}-{split.index}of{split.count}.db"))
        sinks = sinks_for(per, stderr)
        out.append(AlertEvaluator(log, store, per, sinks=sinks, partitions=split.owns))
    if across:
        store = AlertStore(str(home / f"alerts-{digest}-across.db"))
        out.append(AlertEvaluator(log, store, across, sinks=sinks_for(across, stderr)))
    return out


def _sink_name(spec: dict[str, Any]) -> str:
    target = spec.get("url") or spec.get("path")
    return f"{spec['type']} {target}" if target else str(spec["type"])


async def alerts(log: EventLog, where: AlertFilter | None = None) -> list[AlertRow]:
    """Every alert on the log passing ``where``, oldest first, each once."""
    rows = _Rows()
    for partition in range(await log.partitions(ALERTS.name)):
        rows.add(await log.read(ALERTS.name, partition))
    where = where or AlertFilter()
    return sorted((r for r in rows.rows.values() if where.keeps(r)), key=_order)


async def of_execution(
    log: EventLog, execution_id: str, tenant_id: str | None = None
) -> list[AlertRow]:
    """One execution's alerts (any attempt), oldest first, each once.

    What ``omium executions show`` lists; ``tenant_id`` keeps them to that tenant's.
    """
    return await alerts(log, AlertFilter(execution_id=execution_id, tenant_id=tenant_id))


async def follow(
    log: EventLog, where: AlertFilter | None = None, *, interval: float = 0.2
) -> AsyncIterator[AlertRow]:
    """Alerts as they are raised (those already on the log first), until cancelled."""
    where = where or AlertFilter()
    rows = _Rows()
    offsets = dict.fromkeys(range(await log.partitions(ALERTS.name)), 0)
    while True:
        fresh: list[AlertRow] = []
        for partition, start in offsets.items():
            records = await log.read(ALERTS.name, partition, start)
            if records:
                offsets[partition] = records[-1].position.offset + 1
                fresh += rows.add(records)
        for row in sorted(fresh, key=_order):
            if where.keeps(row):
                yield row
        await asyncio.sleep(interval)


def _order(row: AlertRow) -> tuple[datetime, str]:
    return row.raised_at, row.alert_id


class _Rows:
    """Alert rows by id, built from ``alert.raised`` / ``alert.resolved`` records."""

    def __init__(self) -> None:
        self.rows: dict[str, AlertRow] = {}
        self._resolved: dict[str, datetime] = {}

    def add(self, records: list[Record]) -> list[AlertRow]:
        """Take records in; the rows raised for the first time."""
        new = []
        for record in records:
            try:
                event = record.event()
            except InvalidEvent:
                continue
            if isinstance(event, AlertResolved):
                alert_id = event.payload.alert_id
                self._resolved.setdefault(alert_id, event.ts)
                if alert_id in self.rows:
                    self.rows[alert_id] = self.rows[alert_id].model_copy(
                        update={"resolved_at": self._resolved[alert_id]}
                    )
            elif isinstance(event, AlertRaised) and event.payload.alert_id not in self.rows:
                payload = event.payload
                row = AlertRow(
                    alert_id=payload.alert_id,
                    rule=payload.rule,
                    kind=payload.kind,
                    severity=payload.severity,
                    tenant_id=event.tenant_id,
                    execution_id=event.execution_id,
                    attempt=event.attempt,
                    message=payload.message,
                    raised_at=event.ts,
                    resolved_at=self._resolved.get(payload.alert_id),
                    triggered_by=[str(i) for i in payload.triggered_by],
                    details=payload.details,
                )
                self.rows[row.alert_id] = row
                new.append(row)
        return new
