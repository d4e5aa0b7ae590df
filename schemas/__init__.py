"""The event model: envelope, typed payloads, commands, codec and errors. Pure: no IO.

Offers :class:`Event` and every concrete type (``StepCompleted``, ``LLMCall``, ``Run`` …),
``encode``/``decode`` with a size limit and upcasting, ``REGISTRY`` (type name -> class)
the topics (:mod:`omium.schemas.topics`), workflow specs (:mod:`omium.schemas.workflow`)
and the error tree in :mod:`omium.schemas.errors`.

Imports nothing of omium, and no IO, clock or network module (import-linter checks).
"""

from omium.schemas.agents import AgentHandoff, LLMCall, ToolCall
from omium.schemas.alerts import AlertDeliveryFailed, AlertRaised, AlertResolved
from omium.schemas.base import Command, ErrorInfo, Event, Payload
from omium.schemas.checkpoints import (
    CheckpointCreated,
    CheckpointRef,
    CheckpointRunsDeleted,
    CheckpointsPruned,
    CheckpointThreadDeleted,
    CheckpointWritesSaved,
    PendingWrite,
    SerializedValue,
    ns_path,
)
from omium.schemas.codec import DEFAULT_MAX_EVENT_BYTES, decode, encode, from_dict, validate
from omium.schemas.commands import Cancel, Pause, Resume, Rollback, Run
from omium.schemas.dlq import DeadLetter
from omium.schemas.errors import (
    CheckpointTooLarge,
    ConfigError,
    Conflict,
    EventTooLarge,
    InvalidEvent,
    InvalidSpec,
    LogError,
    LogUnavailable,
    NoSuchPoint,
    NotFound,
    NoViews,
    OmiumError,
    SyncCallOnLogLoop,
    TopicNotFound,
    VersionMismatch,
)
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
from omium.schemas.registered import WorkflowRegistered, workflow_key
from omium.schemas.registry import (
    COMMAND_TYPES,
    FACT_TYPES,
    REGISTRY,
    AnyCommand,
    AnyFact,
    current_version,
    type_name,
)
from omium.schemas.steps import StepCompleted, StepFailed, StepRetried, StepStarted

__all__ = [
    "COMMAND_TYPES",
    "DEFAULT_MAX_EVENT_BYTES",
    "FACT_TYPES",
    "REGISTRY",
    "AgentHandoff",
    "AlertDeliveryFailed",
    "AlertRaised",
    "AlertResolved",
    "AnyCommand",
    "AnyFact",
    "Cancel",
    "CheckpointCreated",
    "CheckpointRef",
    "CheckpointRunsDeleted",
    "CheckpointThreadDeleted",
    "CheckpointTooLarge",
    "CheckpointWritesSaved",
    "CheckpointsPruned",
    "Command",
    "ConfigError",
    "Conflict",
    "VersionMismatch",
    "DeadLetter",
    "ErrorInfo",
    "Event",
    "EventTooLarge",
    "ExecutionCancelled",
    "ExecutionCompleted",
    "ExecutionFailed",
    "ExecutionPaused",
    "ExecutionResumed",
    "ExecutionRolledBack",
    "ExecutionStarted",
    "ExecutionSubmitted",
    "ExecutionTimedOut",
    "HumanInputReceived",
    "HumanInputRequested",
    "WorkflowRegistered",
    "workflow_key",
    "InvalidEvent",
    "InvalidSpec",
    "LLMCall",
    "LogError",
    "LogUnavailable",
    "NoSuchPoint",
    "NoViews",
    "NotFound",
    "OmiumError",
    "Pause",
    "Payload",
    "PendingWrite",
    "Resume",
    "Rollback",
    "Run",
    "SerializedValue",
    "StepCompleted",
    "StepFailed",
    "StepRetried",
    "StepStarted",
    "SyncCallOnLogLoop",
    "ToolCall",
    "TopicNotFound",
    "current_version",
    "decode",
    "encode",
    "from_dict",
    "ns_path",
    "type_name",
    "validate",
]
