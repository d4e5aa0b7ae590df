"""What the faust alert agents keep in their tables, and how it is encoded. No IO.

Two changelogged tables (raw bytes both ways, like the projections' table):

- ``alert-runs``, keyed by execution id: one execution's :class:`RunState` (the rules
  about one execution), prefixed by the partition of ``omium.events`` it came from
  (``b"<partition>|<json>"``), so the timer knows which entries its process owns.
- ``alert-tenants``, keyed by tenant: a :class:`TenantState`, the windows and step
  durations of the rules over many executions, plus the ids of the events it applied
  last (a re-forwarded event after a crash is recognised and skipped).

Both also hold, per partition of their source topic, the next offset to evaluate
(:class:`Markers`): a record below it was evaluated already and is skipped; a record
above it means faust skipped records, and the process starts again unacknowledged.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field, PrivateAttr

from omium.projections.alerts import Alert, AlertState, Pricer, RunState, evaluate
from omium.schemas import (
    Event,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionTimedOut,
    LLMCall,
    StepCompleted,
    StepFailed,
)
from omium.schemas.alert_rules import (
    CostBurnRule,
    ExecutionFailedRule,
    FailureRateRule,
    Rule,
    StepLatencyRule,
)
from omium.schemas.topics import DAY_MS, EVENTS, VIEWS_APP, TopicSpec

M = TypeVar("M", bound=BaseModel)

RUNS, TENANTS, BY_TENANT = "alert-runs", "alert-tenants", "omium.alerts-by-tenant"

#: the agents' topics, created by omium before faust starts (as the views' changelog is):
#: faust creating them itself races its consumer's subscription, which then ignores the
#: topic it has not seen yet ("Ignoring missing topic"; seen here)
ALERT_TOPICS = (
    TopicSpec(
        name=f"{VIEWS_APP}-{RUNS}-changelog",
        partitions=EVENTS.partitions,  # co-partitioned: a run's state sits on its events'
        key="execution_id",
        description="the alert rules' latest state of each execution (a faust changelog)",
        cleanup_policy="compact",
    ),
    TopicSpec(
        name=f"{VIEWS_APP}-{TENANTS}-changelog",
        partitions=EVENTS.partitions,
        key="tenant_id",
        description="the alert rules' windows of each tenant (a faust changelog)",
        cleanup_policy="compact",
    ),
    TopicSpec(
        name=BY_TENANT,
        partitions=EVENTS.partitions,
        key="tenant_id",
        description="events the rules over many executions read, forwarded by tenant",
        retention_ms=7 * DAY_MS,
    ),
)

#: the table key prefix of a partition's next-offset marker (never an execution id or tenant)
MARKER = "__omium_alerts_next__:"
#: event ids a tenant remembers (a crash re-forwards at most one batch: 500 records)
KEEP_SEEN = 2000


class SkippedRecords(Exception):  # noqa: N818 - the stream did, not us
    """The stream delivered a partition's records with a hole in their offsets."""


def marker_key(partition: int) -> bytes:
    """The table key of ``partition``'s marker."""
    return f"{MARKER}{partition}".encode()


def is_marker(key: bytes) -> bool:
    """Whether a table key is a marker, not a run or a tenant."""
    return key.startswith(MARKER.encode())


class Markers:
    """Per partition of a source topic, the next offset to evaluate, kept in a table."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def expected(self, partition: int) -> int | None:
        """The next offset to evaluate, or None before the partition's first batch."""
        stored = self.table.data.get(marker_key(partition))
        return int(stored) if stored is not None else None

    def fresh(self, batch: Sequence[Any]) -> list[Any]:
        """The batch less what was evaluated already.

        Raises:
            SkippedRecords: a record lies past the next offset expected.
        """
        out, nexts = [], dict[int, int]()
        for event in batch:
            partition, offset = event.message.partition, event.message.offset
            expected = nexts.get(partition, self.expected(partition))
            if expected is not None and offset > expected:
                raise SkippedRecords(f"partition {partition}: got offset {offset}, not {expected}")
            if expected is None or offset == expected:
                out.append(event)
                nexts[partition] = offset + 1
        return out

    @staticmethod
    def after(batch: Sequence[Any]) -> dict[int, int]:
        """Per partition of ``batch``, the next offset once it is evaluated."""
        return {e.message.partition: e.message.offset + 1 for e in batch}


class Entries(Generic[M]):
    """Decoded table values by key, valid while the table still holds the very bytes.

    A value is ``b"<partition>|<json>"``: the partition of the source topic its key lives
    on (the timer evaluates only its own process's). Decoding a stored state costs more
    than the rules; the memory store keeps the object it was given, so an identity check
    tells whether the table still holds what this process wrote (after a recovery it
    holds other objects, decoded again). Bounded: the oldest entries go first.
    """

    def __init__(self, model: type[M], size: int = 20_000) -> None:
        self.model = model
        self.size = size
        self._entries: OrderedDict[bytes, tuple[bytes, int, M]] = OrderedDict()

    def get(self, key: bytes, stored: bytes) -> tuple[int, M]:
        """``(partition, state)`` that ``stored`` holds, decoded at most once."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] is stored:
            self._entries.move_to_end(key)
            return hit[1], hit[2]
        head, _, body = stored.partition(b"|")
        partition, state = int(head), self.model.model_validate_json(body)
        self.put(key, stored, partition, state)
        return partition, state

    def encode(self, key: bytes, partition: int, state: M) -> bytes:
        """The table value of ``state`` (from ``partition``), remembered as decoded."""
        stored = b"%d|" % partition + state.model_dump_json().encode()
        self.put(key, stored, partition, state)
        return stored

    def put(self, key: bytes, stored: bytes, partition: int, state: M) -> None:
        """Remember that ``stored`` is ``state`` of ``partition``."""
        self._entries[key] = (stored, partition, state)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, key: bytes) -> None:
        """Forget ``key`` (deleted from the table)."""
        self._entries.pop(key, None)


class TenantState(AlertState):
    """A tenant's share of :class:`AlertState` (windows, durations) and recent event ids."""

    seen: list[str] = Field(default_factory=list)
    _index: set[str] = PrivateAttr(default_factory=set)

    def model_post_init(self, context: Any, /) -> None:
        """Index the remembered ids."""
        self._index = set(self.seen)

    def note(self, event_id: str) -> bool:
        """Remember an applied event; False if it was applied already (re-forwarded)."""
        if event_id in self._index:
            return False
        self.seen.append(event_id)
        self._index.add(event_id)
        if len(self.seen) > KEEP_SEEN:
            gone = self.seen[: len(self.seen) - KEEP_SEEN]
            del self.seen[: len(gone)]
            self._index.difference_update(gone)
        return True


_ENDS = (ExecutionCompleted, ExecutionFailed, ExecutionTimedOut, ExecutionCancelled)


def forwards(rules: Sequence[Rule]) -> tuple[type[Event], ...]:
    """The event types the rules over many executions read (the ones worth forwarding)."""
    wanted: list[type[Event]] = []
    for rule in rules:
        if isinstance(rule, CostBurnRule):
            wanted.append(LLMCall)
        elif isinstance(rule, ExecutionFailedRule | FailureRateRule):
            wanted += _ENDS
        elif isinstance(rule, StepLatencyRule):
            wanted += (StepCompleted, StepFailed)
    return tuple(dict.fromkeys(wanted))


def forward_record(run: RunState, raw: bytes) -> bytes:
    """What the per-execution agent forwards: the run's workflow and attempt, the event."""
    return orjson.dumps([run.workflow, run.attempt]) + b"\n" + raw


def read_forward(value: bytes) -> tuple[str | None, int, bytes]:
    """``(workflow, attempt, raw event)`` of a :func:`forward_record`."""
    head, _, raw = value.partition(b"\n")
    workflow, attempt = orjson.loads(head)
    return workflow, int(attempt), raw


def evaluate_run(
    rules: Sequence[Rule],
    scratch: AlertState,
    run: RunState | None,
    event: Event,
    price: Pricer | None,
) -> tuple[RunState, list[Alert]]:
    """The rules about one execution on one of its events: its new state and the alerts.

    ``scratch`` is reused between calls (it holds only this run while evaluating):
    :func:`~omium.projections.alerts.evaluate` is the embedded runner's, given a state
    with this one execution in it, which is all the rules about one execution read.
    """
    scratch.runs.clear()
    if run is not None:
        scratch.runs[event.execution_id] = run
    alerts = evaluate(rules, scratch, event, price=price)
    return scratch.runs[event.execution_id], alerts


def evaluate_forwarded(
    rules: Sequence[Rule],
    state: TenantState,
    workflow: str | None,
    attempt: int,
    event: Event,
    price: Pricer | None,
) -> list[Alert]:
    """The rules over many executions on a forwarded event of ``state``'s tenant.

    The run is what the per-execution agent knew (workflow, current attempt); its cost
    starts at 0, so the cost the rules see added is this call's. An event forwarded
    again (a batch evaluated again after a crash) changes nothing.
    """
    if not state.note(str(event.event_id)):
        return []
    state.runs[event.execution_id] = RunState(
        tenant=event.tenant_id, workflow=workflow, attempt=attempt, status="running"
    )
    try:
        return evaluate(rules, state, event, price=price)
    finally:
        state.runs.clear()
