"""Commands: what a user asked for (imperative), on ``omium.commands``.

A command is a request, not a fact: the executor decides and records the fact
(``execution.paused`` …). ``seq`` is 0 for commands.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue

from omium.schemas.base import Command, Payload, ReasonPayload


class RunPayload(Payload):
    """The payload of :class:`Run`."""

    workflow: str
    spec: dict[str, JsonValue] | None = None
    inputs: dict[str, JsonValue] = Field(default_factory=dict)
    source: str | None = Field(
        None, description="absolute path of the workflow file; step modules resolve beside it"
    )
    fresh_id: bool = Field(
        False,
        description="the submitter generated execution_id, so no earlier events can exist",
    )
    workflow_version: str | None = Field(
        None,
        description="the registered version to run (a content hash); a worker whose files "
        "give another version fails the run instead of running that one",
    )
    parent: str | None = Field(
        None,
        description="the execution that submitted this one as its sub-execution (a crewai "
        "for_each run's child); None: submitted by a user",
    )


class Run(Command):
    """Start an execution of a workflow."""

    type: Literal["run"] = "run"
    version: Literal[1] = 1
    payload: RunPayload


class Pause(Command):
    """Stop between steps until resumed."""

    type: Literal["pause"] = "pause"
    version: Literal[1] = 1
    payload: ReasonPayload = ReasonPayload()


class ResumePayload(ReasonPayload):
    """The payload of :class:`Resume`: a reason, and the answer to a human input request."""

    input: JsonValue = None


class Resume(Command):
    """Continue a paused execution (optionally answering a human input request)."""

    type: Literal["resume"] = "resume"
    version: Literal[1] = 1
    payload: ResumePayload = ResumePayload()


class Cancel(Command):
    """Stop an execution for good, interrupting a running step."""

    type: Literal["cancel"] = "cancel"
    version: Literal[1] = 1
    payload: ReasonPayload = ReasonPayload()


class RollbackPayload(Payload):
    """The payload of :class:`Rollback`."""

    checkpoint_id: str = Field(min_length=1)
    overrides: dict[str, JsonValue] = Field(default_factory=dict)
    as_node: str | None = Field(
        None,
        description="graphs: the node the overrides are written as (LangGraph's "
        "update_state(as_node=...)); None: the one node that wrote those keys there",
    )
    run: RunPayload | None = Field(
        None,
        description="the execution's original run (workflow, spec, source): a worker needs "
        "it to continue an execution that no longer runs",
    )


class Rollback(Command):
    """Continue from a checkpoint as a new attempt, optionally with edited state."""

    type: Literal["rollback"] = "rollback"
    version: Literal[1] = 1
    payload: RollbackPayload
