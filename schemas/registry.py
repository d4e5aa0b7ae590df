"""Every event and command type, by name, and the discriminated union over them."""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field

from omium.schemas.agents import AgentHandoff, LLMCall, ToolCall
from omium.schemas.alerts import AlertDeliveryFailed, AlertRaised, AlertResolved
from omium.schemas.base import Event
from omium.schemas.checkpoints import (
    CheckpointCreated,
    CheckpointRunsDeleted,
    CheckpointsPruned,
    CheckpointThreadDeleted,
    CheckpointWritesSaved,
)
from omium.schemas.commands import Cancel, Pause, Resume, Rollback, Run
from omium.schemas.executions import (
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionPaused,
    ExecutionResumed,
    ExecutionRolledBack,
    ExecutionStarted,
    ExecutionSubmitted,
    ExecutionTimedOut,
)
from omium.schemas.humans import HumanInputReceived, HumanInputRequested
from omium.schemas.registered import WorkflowRegistered
from omium.schemas.steps import StepCompleted, StepFailed, StepRetried, StepStarted

AnyFact = Annotated[
    ExecutionSubmitted
    | ExecutionStarted
    | ExecutionPaused
    | ExecutionResumed
    | ExecutionCancelled
    | ExecutionCompleted
    | ExecutionFailed
    | ExecutionTimedOut
    | ExecutionRolledBack
    | StepStarted
    | StepCompleted
    | StepFailed
    | StepRetried
    | AgentHandoff
    | LLMCall
    | ToolCall
    | CheckpointCreated
    | CheckpointWritesSaved
    | CheckpointThreadDeleted
    | CheckpointsPruned
    | CheckpointRunsDeleted
    | HumanInputRequested
    | HumanInputReceived
    | AlertRaised
    | AlertResolved
    | AlertDeliveryFailed
    | WorkflowRegistered,
    Field(discriminator="type"),
]
"""Any fact (past tense), discriminated by ``type``."""

AnyCommand = Annotated[Run | Pause | Resume | Cancel | Rollback, Field(discriminator="type")]
"""Any command (imperative), discriminated by ``type``."""


def _members(union: object) -> tuple[type[Event], ...]:
    """The classes of an ``Annotated[A | B | …, Field(…)]`` union, in order."""
    return tuple(get_args(get_args(union)[0]))


#: Every fact class, read off :data:`AnyFact` (the union is the one list).
FACT_TYPES: tuple[type[Event], ...] = _members(AnyFact)
#: Every command class, read off :data:`AnyCommand`.
COMMAND_TYPES: tuple[type[Event], ...] = _members(AnyCommand)


def type_name(cls: type[Event]) -> str:
    """The ``type`` literal a class is registered under."""
    default = cls.model_fields["type"].default
    assert isinstance(default, str)
    return default


def current_version(cls: type[Event]) -> int:
    """The version a class writes: one more than the number of its migrations."""
    return len(cls.MIGRATIONS) + 1


#: name -> class, for decoding. Built once from the tuples above.
REGISTRY: dict[str, type[Event]] = {type_name(c): c for c in FACT_TYPES + COMMAND_TYPES}
