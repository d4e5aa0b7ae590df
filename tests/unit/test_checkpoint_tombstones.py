"""The execution fold forgets the checkpoints a checkpointer's tombstones forget.

``checkpoint.thread_deleted`` forgets every checkpoint before it; ``checkpoint.pruned``
every one but those it ``kept`` (by namespace and id); ``checkpoint.runs_deleted`` those
whose metadata names one of its runs. What comes after a tombstone stays.
"""

from __future__ import annotations

from typing import Any

from omium.projections import fold, view_from_dict, view_to_dict
from omium.projections.views import CheckpointView
from omium.schemas import Event, from_dict

SNAPSHOT = {"type": "msgpack", "data": ""}


def event(kind: str, seq: int, **payload: Any) -> Event:
    body = {"type": kind, "execution_id": "ex-t", "seq": seq, "payload": payload}
    return from_dict(body)


def saved(seq: int, cid: str, ns: str = "", run_id: str | None = None) -> Event:
    metadata = {"run_id": run_id, "source": "loop"} if run_id else {"source": "loop"}
    return event(
        "checkpoint.created", seq, checkpoint_id=cid, ns=ns, metadata=metadata, checkpoint=SNAPSHOT
    )


def ids(checkpoints: tuple[CheckpointView, ...]) -> list[str]:
    return [c.checkpoint_id for c in checkpoints]


THREE = [saved(1, "c1", run_id="r1"), saved(2, "c2", "sub:x", "r2"), saved(3, "c3", run_id="r2")]


def test_thread_deleted__forgets_every_earlier_checkpoint_not_later_ones() -> None:
    view = fold([*THREE, event("checkpoint.thread_deleted", 4), saved(5, "c5")])
    assert ids(view.checkpoints) == ["c5"]
    assert view.checkpoint("c1") is None and view.last_checkpoint() == view.checkpoint("c5")


def test_pruned__keeps_exactly_the_kept_namespace_and_id() -> None:
    kept = [{"ns": "sub:x", "checkpoint_id": "c2"}, {"ns": "", "checkpoint_id": "c3"}]
    view = fold([*THREE, event("checkpoint.pruned", 4, strategy="keep_latest", kept=kept)])
    assert ids(view.checkpoints) == ["c2", "c3"]


def test_pruned__a_kept_id_in_another_namespace_does_not_survive() -> None:
    kept = [{"ns": "", "checkpoint_id": "c2"}]  # c2 lives in sub:x
    view = fold([*THREE, event("checkpoint.pruned", 4, strategy="keep_latest", kept=kept)])
    assert ids(view.checkpoints) == []


def test_pruned__with_delete_forgets_all() -> None:
    view = fold([*THREE, event("checkpoint.pruned", 4, strategy="delete")])
    assert view.checkpoints == ()


def test_runs_deleted__forgets_the_checkpoints_of_those_runs_only() -> None:
    view = fold([*THREE, saved(4, "c4"), event("checkpoint.runs_deleted", 5, run_ids=["r2"])])
    assert ids(view.checkpoints) == ["c1", "c4"]


def test_tombstones__survive_a_stored_view_round_trip() -> None:
    view = fold(THREE)
    stored = view_from_dict(view_to_dict(view))
    assert [(c.ns, c.run_id) for c in stored.checkpoints] == [
        ("", "r1"),
        ("sub:x", "r2"),
        ("", "r2"),
    ]
    after = fold([event("checkpoint.runs_deleted", 4, run_ids=["r1"])], stored)
    assert ids(after.checkpoints) == ["c2", "c3"]


def test_stored_view_of_before_tombstones__still_reads() -> None:
    """A view stored before checkpoints carried ``ns`` and ``run_id`` (7 fields a row)."""
    data = view_to_dict(fold(THREE))
    data["checkpoints"] = [row[:7] for row in data["checkpoints"]]
    assert [(c.ns, c.run_id) for c in view_from_dict(data).checkpoints] == [("", None)] * 3
