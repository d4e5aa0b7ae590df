"""``checkpoint.*``: snapshots of a run's state, a framework's pending writes, and tombstones.

The checkpoint's log position is the position of this event itself; the projection
records it when it folds the record (an event cannot carry its own offset).

A framework checkpointer (LangGraph's, in ``omium.adapters.langgraph``) also stores its
own snapshot in ``checkpoint.created`` (``checkpoint``: the serializer's type tag and
base64 bytes, restorable as-is) next to ``state``, a JSON rendering for people and folds.
The log is never rewritten, so forgetting checkpoints is a tombstone that the
checkpointer's index honours: ``checkpoint.thread_deleted``, ``checkpoint.pruned``,
``checkpoint.runs_deleted``. Every field added after version 1 is optional, so older
records still decode.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue

from omium.schemas.base import Event, Payload, ReasonPayload


def ns_path(ns: str) -> str:
    """A checkpoint namespace as the path of nodes it runs in ('' = the root graph).

    LangGraph names each level ``node:task_id`` and joins levels with ``|``:
    ``write:1f0…|inner:2a9…`` is ``write/inner``.
    """
    return "/".join(part.partition(":")[0] for part in ns.split("|")) if ns else ""


def step_checkpoint_id(attempt: int, index: int, step: str) -> str:
    """The id of the checkpoint recorded after step ``index`` of ``attempt``: ``a1-2-rank``."""
    return f"a{attempt}-{index}-{step}"


class SerializedValue(Payload):
    """A framework value as its own serializer wrote it (e.g. LangGraph's ``dumps_typed``)."""

    type: str = Field(description="the serializer's type tag, e.g. 'msgpack'")
    data: str = Field(description="the serialized bytes, base64-encoded")


class CheckpointCreatedPayload(Payload):
    """The payload of :class:`CheckpointCreated`."""

    checkpoint_id: str = Field(min_length=1)
    step: str | None = None
    index: int | None = Field(None, ge=0)
    state: dict[str, JsonValue] = Field(default_factory=dict)
    parent_id: str | None = None
    ns: str = Field("", description="the framework's checkpoint namespace ('' = the root graph)")
    metadata: dict[str, JsonValue] | None = Field(
        None, description="the framework's checkpoint metadata (source, step, run_id …)"
    )
    checkpoint: SerializedValue | None = Field(
        None, description="the framework's own snapshot, restorable as-is"
    )


class CheckpointCreated(Event):
    """A restorable snapshot of the run's state."""

    type: Literal["checkpoint.created"] = "checkpoint.created"
    version: Literal[1] = 1
    payload: CheckpointCreatedPayload


class PendingWrite(Payload):
    """One write a task made to a channel, not yet folded into a checkpoint."""

    idx: int = Field(description="its index in the task's writes; negative for special ones")
    channel: str
    value: SerializedValue


class CheckpointWritesSavedPayload(Payload):
    """The payload of :class:`CheckpointWritesSaved`."""

    checkpoint_id: str = Field(min_length=1, description="the checkpoint the task started from")
    ns: str = ""
    task_id: str
    task_path: str = ""
    writes: list[PendingWrite] = Field(default_factory=list)


class CheckpointWritesSaved(Event):
    """A task's writes were saved against the checkpoint it ran from (pending writes)."""

    type: Literal["checkpoint.writes_saved"] = "checkpoint.writes_saved"
    version: Literal[1] = 1
    payload: CheckpointWritesSavedPayload


class CheckpointThreadDeleted(Event):
    """Every checkpoint and pending write recorded before this one is forgotten."""

    type: Literal["checkpoint.thread_deleted"] = "checkpoint.thread_deleted"
    version: Literal[1] = 1
    payload: ReasonPayload = ReasonPayload()


class CheckpointRef(Payload):
    """A checkpoint by namespace and id."""

    ns: str = ""
    checkpoint_id: str = Field(min_length=1)


class CheckpointsPrunedPayload(Payload):
    """The payload of :class:`CheckpointsPruned`."""

    strategy: Literal["keep_latest", "delete"]
    kept: list[CheckpointRef] = Field(
        default_factory=list, description="the checkpoints that survive, with their writes"
    )


class CheckpointsPruned(Event):
    """Checkpoints recorded before this one are forgotten, except those ``kept``."""

    type: Literal["checkpoint.pruned"] = "checkpoint.pruned"
    version: Literal[1] = 1
    payload: CheckpointsPrunedPayload


class CheckpointRunsDeletedPayload(Payload):
    """The payload of :class:`CheckpointRunsDeleted`."""

    run_ids: list[str] = Field(min_length=1)


class CheckpointRunsDeleted(Event):
    """Checkpoints recorded before this one whose metadata names one of the runs are forgotten."""

    type: Literal["checkpoint.runs_deleted"] = "checkpoint.runs_deleted"
    version: Literal[1] = 1
    payload: CheckpointRunsDeletedPayload
