"""Views to and from plain JSON-able dicts, so a store (a faust table, a SQLite row) can keep them.

Stored views leave the checkpoints' snapshots out (``state=None``): the snapshot is the
``checkpoint.created`` record at the checkpoint's position, read from the log on demand.
Dict keys that are not strings (``(attempt, index)``, attempts) become lists of pairs.
``FORMAT`` is written into every dict; a stored view of another format is refolded from
the log rather than read.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from omium.projections.views import (
    Branch,
    CheckpointView,
    ExecutionView,
    Pos,
    SaverThread,
    StepView,
    Usage,
)

FORMAT = 1


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _pos(value: Any) -> Pos | None:
    return (str(value[0]), int(value[1]), int(value[2])) if value is not None else None


def view_to_dict(view: ExecutionView, *, states: bool = False) -> dict[str, Any]:
    """A JSON-able dict of ``view`` (checkpoint snapshots only with ``states=True``)."""
    return {
        "format": FORMAT,
        "execution_id": view.execution_id,
        "workflow": view.workflow,
        "status": view.status,
        "attempt": view.attempt,
        "inputs": view.inputs,
        "state": view.state,
        "output": view.output,
        "error": view.error,
        "steps": [
            [
                s.name,
                s.index,
                s.attempt,
                s.status,
                s.seq,
                s.retry,
                _ts(s.started_at),
                _ts(s.ended_at),
                s.error,
                s.duration_ms,
                s.parent,
            ]
            for s in view.step_map.values()
        ],
        "checkpoints": [
            [
                c.checkpoint_id,
                c.step,
                c.index,
                c.attempt,
                c.seq,
                c.state if states else None,
                list(c.position) if c.position else None,
                c.ns,
                c.run_id,
            ]
            for c in view.checkpoints
        ],
        "branches": [
            [b.attempt, b.from_attempt, b.checkpoint_id, b.branch_seq, b.overrides, b.as_node]
            for b in view.branches
        ],
        "usage": [
            view.usage.llm_calls,
            view.usage.input_tokens,
            view.usage.output_tokens,
            view.usage.cost_usd,
            view.usage.tool_calls,
        ],
        "last_seq": sorted(view.last_seq.items()),
        "applied_commands": sorted(view.applied_commands),
        "submitted_at": _ts(view.submitted_at),
        "started_at": _ts(view.started_at),
        "ended_at": _ts(view.ended_at),
        "first_position": list(view.first_position) if view.first_position else None,
        "last_position": list(view.last_position) if view.last_position else None,
        "waiting": view.waiting,
        "human_inputs": view.human_inputs,
        "saver": _saver_to_dict(view.saver),
        "tenant_id": view.tenant_id,
    }


def _saver_to_dict(saver: SaverThread | None) -> dict[str, Any] | None:
    if saver is None:
        return None
    return {
        "newest": saver.newest,
        "last_checkpoint_at": _ts(saver.last_checkpoint_at),
        "pending": [[cid, list(nodes)] for cid, nodes in saver.pending.items()],
        "interrupted": sorted(saver.interrupted),
        "errored": sorted(saver.errored),
    }


def _saver(data: dict[str, Any] | None) -> SaverThread | None:
    # views stored before saver threads were told apart have no "saver": runs (None)
    if data is None:
        return None
    return SaverThread(
        data["newest"],
        _dt(data["last_checkpoint_at"]),
        {str(cid): tuple(nodes) for cid, nodes in data["pending"]},
        frozenset(data["interrupted"]),
        frozenset(data["errored"]),
    )


def view_from_dict(data: dict[str, Any]) -> ExecutionView:
    """The view :func:`view_to_dict` wrote (raises ``KeyError``/``ValueError`` if malformed)."""
    if data.get("format") != FORMAT:
        raise ValueError(f"stored view format {data.get('format')!r}, expected {FORMAT}")
    steps = [_step(row) for row in data["steps"]]
    return ExecutionView(
        execution_id=data["execution_id"],
        workflow=data["workflow"],
        status=data["status"],
        attempt=data["attempt"],
        inputs=data["inputs"],
        state=data["state"],
        output=data["output"],
        error=data["error"],
        step_map={(s.attempt, s.index): s for s in steps},
        checkpoints=tuple(_checkpoint(c) for c in data["checkpoints"]),
        branches=tuple(Branch(*b) for b in data["branches"]),
        usage=Usage(*data["usage"]),
        last_seq={int(a): int(s) for a, s in data["last_seq"]},
        applied_commands=frozenset(data["applied_commands"]),
        submitted_at=_dt(data["submitted_at"]),
        started_at=_dt(data["started_at"]),
        ended_at=_dt(data["ended_at"]),
        first_position=_pos(data["first_position"]),
        last_position=_pos(data["last_position"]),
        waiting=data.get("waiting"),
        human_inputs=data.get("human_inputs", {}),
        saver=_saver(data.get("saver")),
        tenant_id=data.get("tenant_id", "default"),  # views stored before tenants: default
    )


def _step(row: list[Any]) -> StepView:
    # rows stored before steps carried their duration (their parent) have 9 (10) fields
    n, i, a, st, sq, r, b, e, err, *rest = row
    took, parent = (rest + [None, None])[:2]
    return StepView(n, i, a, st, sq, r, _dt(b), _dt(e), err, took, parent)


def _checkpoint(row: list[Any]) -> CheckpointView:
    # rows stored before checkpoints carried ``ns``/``run_id`` have 7 fields
    cid, step, index, attempt, seq, state, position, *rest = row
    ns, run_id = (rest + ["", None])[:2]
    return CheckpointView(cid, step, index, attempt, seq, state, _pos(position), ns, run_id)


def without_states(view: ExecutionView) -> ExecutionView:
    """``view`` as a store keeps it (checkpoint snapshots left in the log)."""
    if all(c.state is None for c in view.checkpoints):
        return view
    return replace(view, checkpoints=tuple(replace(c, state=None) for c in view.checkpoints))
