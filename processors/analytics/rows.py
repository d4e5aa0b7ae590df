"""The sink's rows, built straight from the records' JSON: no validated event per record.

:func:`decoded` parses a batch of records with orjson and upcasts old versions
(:func:`omium.schemas.codec.upcast`); a record whose dict is exactly what validation would
keep (:mod:`.layout`) is used as it is, any other one is validated and re-encoded first, and
one that does not validate is left out (it is the projector's DLQ's). :func:`rows_of` then
builds the same rows as :func:`omium.projections.analytics.analytics_rows` does from
validated events: ``tests/unit/test_analytics_fast_rows.py`` holds the two to each other
over every event type. Validation was about half of the sink's time, and building a frozen
model per event most of the rest of decoding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from sys import maxsize
from typing import Any
from uuid import UUID

import orjson

from omium.processors.analytics.layout import ENVELOPE, FAST
from omium.producers import Record
from omium.producers.pricing import PRICES, cost_usd, price_of
from omium.projections.analytics import (
    EVENT_COLUMNS,
    EXECUTION_COLUMNS,
    FAILED,
    FINISHED,
    LLM_COLUMNS,
    RAN,
    STEP_COLUMNS,
    TOOL_COLUMNS,
    AnalyticsRows,
    ExecutionRow,
    Pos,
    Pricer,
)
from omium.schemas import decode, encode
from omium.schemas.codec import upcast

#: a record's event as a plain dict (``ts``, ``event_id``, ``causation_id`` converted), where
#: it was read, and its payload's JSON text
Fact = tuple[dict[str, Any], Pos, str]

#: RFC 3339 as pydantic writes it; anything else is left to pydantic's parser
_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)\Z")
_STATUS = {
    "execution.submitted": "submitted",
    "execution.started": "running",
    "execution.paused": "paused",
    "execution.resumed": "running",
    "execution.rolled_back": "running",
    "execution.cancelled": "cancelled",
    "execution.completed": "completed",
    "execution.failed": "failed",
    "execution.timed_out": "timed_out",
}


def decoded(records: Iterable[Record]) -> list[Fact]:
    """The records' events as dicts, in order; records that do not validate are left out."""
    out = []
    for record in records:
        value = record.value
        try:
            raw = as_read(orjson.loads(value))
        except Exception:  # noqa: BLE001 - not JSON, unknown type: validation says which
            raw = None
        # the payload's text as encode wrote it, last in a compact record (the first
        # ',"payload":' is the key: no string before it can hold an unescaped quote)
        at = value.find(b',"payload":') if raw is not None else -1
        if raw is not None and at > 0 and value.endswith(b"}}"):
            text = value[at + 11 : -1].decode()
        else:
            try:
                raw, text = _validated(value)
            except Exception:  # noqa: BLE001 - poison is set aside by the projector, not here
                continue
        p = record.position
        out.append((raw, (p.topic, p.partition, p.offset), text))
    return out


def _validated(value: bytes) -> tuple[dict[str, Any], str]:
    """A record of any other layout or type: validated, then read as ``encode`` writes it."""
    event = decode(value)
    raw: dict[str, Any] = orjson.loads(encode(event, max_bytes=maxsize))
    raw["ts"], raw["event_id"], raw["causation_id"] = event.ts, event.event_id, event.causation_id
    return raw, event.payload.model_dump_json()


def as_read(value: Any) -> dict[str, Any] | None:
    """``value`` upcast, its envelope's values as validation makes them; None: validate it.

    Not None only for a dict in ``encode``'s layout that validation keeps unchanged (see
    :mod:`.layout`); ``value`` itself may be changed.
    """
    if type(value) is not dict:
        return None
    fast = FAST.get(value.get("type"))  # type: ignore[arg-type]
    raw = value if fast is not None and value.get("version") == fast[0] else upcast(value)
    fast = FAST.get(raw["type"])
    if fast is None or tuple(raw) != ENVELOPE:
        return None
    version, check = fast
    ts, event_id, cause = raw["ts"], raw["event_id"], raw["causation_id"]
    tenant, execution, attempt, seq = (
        raw["tenant_id"],
        raw["execution_id"],
        raw["attempt"],
        raw["seq"],
    )
    if not (
        raw["version"] == version
        and type(raw["version"]) is int
        and type(tenant) is str
        and 0 < len(tenant) <= 128
        and type(execution) is str
        and 0 < len(execution) <= 256
        and type(attempt) is int
        and attempt >= 1
        and type(seq) is int
        and seq >= 0
        and type(ts) is str
        and _TS.match(ts)
        and type(event_id) is str
        and len(event_id) == 36
        and (cause is None or (type(cause) is str and len(cause) == 36))
        and check(raw["payload"])
    ):
        return None
    raw["ts"] = datetime.fromisoformat(ts)
    raw["event_id"] = UUID(event_id)
    raw["causation_id"] = None if cause is None else UUID(cause)
    return raw


def ids_of(facts: Iterable[Fact]) -> list[str]:
    """The executions ``facts`` touch, sorted."""
    return sorted({raw["execution_id"] for raw, _, _ in facts})


def rows_of(
    facts: Iterable[Fact], prior: Mapping[str, ExecutionRow], price: Pricer
) -> AnalyticsRows:
    """The rows ``facts`` add to each table: :func:`~omium.projections.analytics.analytics_rows`.

    Each row is one tuple in its table's column order (``EVENT_COLUMNS``, ``STEP_COLUMNS``…:
    the test against ``analytics_rows`` fails if one is out of place), and the columns are
    made at the end by one transposition: a dict per row cost more than the rest together.

    Args:
        facts: what :func:`decoded` returned, in log order per partition.
        prior: the stored row of executions the batch touches (missing: new executions).
        price: prices an ``llm.call`` that carries no ``cost_usd``.
    """
    runs: dict[str, dict[str, Any]] = {}
    events: list[tuple[Any, ...]] = []
    tables: dict[str, list[tuple[Any, ...]]] = {"steps": [], "llm_calls": [], "tool_calls": []}
    steps, llm_calls, tool_calls = tables.values()
    for raw, (topic, partition, offset), text in facts:
        execution, kind = raw["execution_id"], raw["type"]
        run = runs.get(execution)
        if run is None:
            run = runs[execution] = _working(raw, prior.get(execution))
        tenant, attempt, ts, event_id = raw["tenant_id"], raw["attempt"], raw["ts"], raw["event_id"]
        events.append(
            (tenant, execution, attempt, raw["seq"], kind, ts, event_id, raw["causation_id"],
             topic, partition, offset, text)
        )  # fmt: skip
        p = raw["payload"]
        if kind == "llm.call":
            cost = p["cost_usd"]
            if cost is None:
                cost = price(p["model"], p["input_tokens"], p["output_tokens"])
            error = p["error"]
            llm_calls.append(
                (tenant, run["workflow"], execution, attempt, p["model"], p["provider"] or "",
                 p["agent"] or "", p["step"] or "", p["input_tokens"], p["output_tokens"],
                 cost or 0.0, p["latency_ms"], error["type"] if error else "", ts, event_id,
                 partition, offset)
            )  # fmt: skip
            _seen_agent(run, p["step"], p["agent"])
            run["llm_calls"] += 1
            run["input_tokens"] += p["input_tokens"]
            run["output_tokens"] += p["output_tokens"]
            run["cost_usd"] += cost or 0.0
        elif kind == "tool.call":
            error = p["error"]
            tool_calls.append(
                (tenant, run["workflow"], execution, attempt, p["tool"], p["agent"] or "",
                 p["step"] or "", p["latency_ms"], error["type"] if error else "", ts, event_id,
                 partition, offset)
            )  # fmt: skip
            _seen_agent(run, p["step"], p["agent"])
        elif kind == "step.completed" or kind == "step.failed":
            step, duration = p["step"], p["duration_ms"]
            error = p["error"]["type"] if kind == "step.failed" else ""
            # the first run (and first failure) of the step in its execution: see analytics_rows
            seen = run["step_runs"].get(step, 0)
            run["step_runs"][step] = seen | RAN | (FAILED if error else 0)
            steps.append(
                (tenant, run["workflow"], run["version"], execution, attempt, step,
                 run["step_agents"].get(step, ""), run["framework"],
                 "failed" if error else "completed", error,
                 ts - timedelta(milliseconds=duration), ts, duration, event_id, partition,
                 offset, 0 if seen & RAN else 1, 1 if error and not seen & FAILED else 0)
            )  # fmt: skip
            run["steps"] += 1
            if error:
                run["failed_steps"] += 1
                run["failed_step"] = step
                run["error_type"] = error
        else:
            _lifecycle(raw, run)
        run["last_offset"] = offset
    out = AnalyticsRows(
        events=_columns(EVENT_COLUMNS, events),
        steps=_columns(STEP_COLUMNS, steps),
        llm_calls=_columns(LLM_COLUMNS, llm_calls),
        tool_calls=_columns(TOOL_COLUMNS, tool_calls),
    )
    out.executions = {key: ExecutionRow(**run) for key, run in runs.items()}
    return out


#: the columns of ``execution_changes`` (0009_daily_rollups.sql)
CHANGE_COLUMNS = ("tenant_id", "at", "workflow", "status", "error_type", "change")


def execution_changes(
    prior: Mapping[str, ExecutionRow], now: Mapping[str, ExecutionRow]
) -> dict[str, list[Any]]:
    """What a batch changed in the state ``failures --by workflow`` counts, as columns.

    For each execution in ``now`` whose (time, workflow, status, error type) differs from
    its stored row in ``prior``: -1 for the stored one (if it had a time) and +1 for the new
    one (if it has). The time is ``coalesce(started_at, submitted_at, ended_at)``.
    """
    rows: list[tuple[Any, ...]] = []
    for execution, row in now.items():
        old = prior.get(execution)
        before = None if old is None else _counted(old)
        after = _counted(row)
        if before == after:
            continue
        if before is not None:
            rows.append((*before, -1))
        if after is not None:
            rows.append((*after, 1))
    return _columns(CHANGE_COLUMNS, rows)


def _counted(row: ExecutionRow) -> tuple[Any, ...] | None:
    at = row.started_at or row.submitted_at or row.ended_at
    if at is None:  # no time: never inside a window
        return None
    return (row.tenant_id, at, row.workflow, row.status, row.error_type)


def _columns(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    if not rows:
        return {name: [] for name in names}
    return dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))


class ModelPrices:
    """A :data:`Pricer` equal to ``cost_usd``, with each model's price rows looked up once.

    ``cost_usd`` matches the model's name against every row of the price table on each call
    (a third of the row building); this keeps, per model, the rows that match it (found by
    ``price_of`` itself, one row at a time) and prices each call against those alone.
    """

    def __init__(self, prices: Mapping[str, tuple[float, float]] = PRICES) -> None:
        self.prices = prices
        self.tables: dict[str, dict[str, tuple[float, float]]] = {}

    def __call__(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        """USD of one call, or None when the model has no price (as ``cost_usd``)."""
        table = self.tables.get(model)
        if table is None:
            if len(self.tables) > 10_000:  # names are few; a flood of them must not grow this
                self.tables.clear()
            table = self.tables[model] = {
                key: row
                for key, row in self.prices.items()
                if price_of(model, {key: row}) is not None
            }
        return cost_usd(model, input_tokens, output_tokens, table)


def _working(raw: dict[str, Any], stored: ExecutionRow | None) -> dict[str, Any]:
    base = stored or ExecutionRow(tenant_id=raw["tenant_id"], execution_id=raw["execution_id"])
    run = {name: getattr(base, name) for name in EXECUTION_COLUMNS}
    run["step_agents"] = dict(base.step_agents)  # the stored row stays as it was
    run["step_runs"] = dict(base.step_runs)
    return run


def _seen_agent(run: dict[str, Any], step: str | None, agent: str | None) -> None:
    if step and agent:
        run["step_agents"][step] = agent


def _lifecycle(raw: dict[str, Any], run: dict[str, Any]) -> None:
    kind = raw["type"]
    status = _STATUS.get(kind)
    if status is None:
        return
    ts, p = raw["ts"], raw["payload"]
    run["status"] = status
    run["attempt"] = max(run["attempt"], raw["attempt"])
    if kind in ("execution.submitted", "execution.started"):
        run["workflow"] = p["workflow"]
    if kind == "execution.submitted":
        run["submitted_at"] = run["submitted_at"] or ts
    if kind == "execution.started":
        run["started_at"] = run["started_at"] or ts
        run["ended_at"] = None  # a run resumed after a crash is running again
    if kind == "execution.rolled_back":
        run["ended_at"] = None
    if status in FINISHED:
        run["ended_at"] = ts
    if kind == "execution.failed":
        run["error_type"] = p["error"]["type"]
        run["failed_step"] = p["step"] or run["failed_step"]
    if kind == "execution.timed_out":
        run["error_type"] = "TimedOut"
