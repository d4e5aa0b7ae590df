"""From what a crew did to omium payloads: ``llm.call``, ``tool.call``, ``agent.handoff``.

The listener (:mod:`omium.adapters.crewai.listener`) turns each crewai event into one of
the small frozen records below, right when it is handled; :class:`PayloadBuilder` then
reads a run's records in emission order and builds the payloads. No crewai import here:
the building is plain data in, plain data out, so it is tested without a crew.

- ``llm.call``: one per finished (or failed) model call, paired by crewai's ``call_id``;
  ``step`` is the name of the crew's task being run, ``cost_usd`` from
  :func:`omium.producers.pricing.cost_usd`, ``request`` the messages, ``response`` the text.
- ``tool.call``: one per tool call as the agent made it (after crewai's own retries),
  ``result`` being what the tool returned; ``shown_to_agent`` is the text crewai handed
  back to the agent, only when it is not ``result`` as text (crewai appends its tool-format
  reminder to every few results of a task): :func:`shown_to_agent` gives it in both cases,
  for re-execution. ``error`` is set when the last try failed.
- ``agent.handoff``: when the next task's agent differs from the previous task's, and
  when an agent uses crewai's delegation tools (``to_agent`` is the coworker).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omium.producers.pricing import cost_usd

Payload = tuple[str, dict[str, Any]]

DELEGATION = {
    "delegate_work_to_coworker": "delegated work",
    "ask_question_to_coworker": "asked a question",
}
_ERROR = re.compile(r"^([A-Za-z_]\w*): (.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class TaskStarted:
    """A task of the crew began (``agent`` is the role running it)."""

    task_id: str
    agent: str | None


@dataclass(frozen=True, slots=True)
class LLMStarted:
    """A model call began."""

    call_id: str
    messages: Any
    at: datetime


@dataclass(frozen=True, slots=True)
class LLMEnded:
    """A model call finished (``error`` is None) or failed."""

    call_id: str
    agent: str | None
    task_id: str | None
    model: str
    provider: str | None
    response: Any
    usage: dict[str, Any] | None
    error: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class ToolStarted:
    """crewai started running a tool (``tool`` is the sanitized name)."""

    tool: str
    agent: str | None
    arguments: Any


@dataclass(frozen=True, slots=True)
class ToolTried:
    """One try of a tool finished (``error`` None) or raised (crewai may try again)."""

    tool: str
    agent: str | None
    error: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class ToolCalled:
    """A tool call, reported by omium's tool-call hook.

    ``result`` is what the tool returned (JSON data), ``shown_to_agent`` the text the agent
    was handed when it is not ``result`` as text (see :func:`shown_to_agent`).
    """

    tool: str
    agent: str | None
    arguments: Any
    result: Any
    latency_ms: float
    error: dict[str, Any] | None = None  # set by re-execution (the recorded error)
    shown_to_agent: str | None = None


Record = TaskStarted | LLMStarted | LLMEnded | ToolStarted | ToolTried | ToolCalled


def jsonable(value: Any) -> Any:
    """``value`` as JSON data (anything else becomes its ``str``)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def as_text(result: Any) -> str:
    """``result`` as crewai hands a tool's output to the agent by default (``str``)."""
    return result if isinstance(result, str) else str(result)


def shown_to_agent(result: Any, shown: str | None) -> str:
    """The text the agent was handed, from a ``tool.call``'s ``result`` and ``shown_to_agent``.

    That is ``shown`` when set, else ``result`` as text.
    """
    return shown if shown is not None else as_text(result)


def parse_arguments(value: Any) -> Any:
    """Tool arguments as data: crewai reports them as a dict or as the raw JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return jsonable(value)


class PayloadBuilder:
    """Builds one crew run's payloads from its records, fed in emission order.

    Args:
        tasks: ``(task id, step name)`` of the crew's tasks, in order.
        roles: the roles of the crew's agents (to name a delegation's coworker).
        previous: ``(agent role, step name)`` of the task before the first one run
            (when resuming), so the first task's handoff is reported as it was.
    """

    def __init__(
        self,
        tasks: Sequence[tuple[str, str]],
        roles: Sequence[str],
        previous: tuple[str | None, str] | None = None,
    ) -> None:
        self._steps = dict(tasks)
        self._roles = {role.strip().lower(): role for role in roles}
        self._agent: str | None = previous[0] if previous else None
        self._step: str | None = previous[1] if previous else None
        self._llm: dict[str, LLMStarted] = {}
        self._tool_errors: dict[tuple[str | None, str], dict[str, str] | None] = {}

    @property
    def step(self) -> str | None:
        """The name of the crew's task running now."""
        return self._step

    def feed(self, record: Record) -> list[Payload]:
        """The payloads ``record`` completes (often none)."""
        if isinstance(record, TaskStarted):
            return self._task(record)
        if isinstance(record, LLMStarted):
            self._llm[record.call_id] = record
            return []
        if isinstance(record, LLMEnded):
            return [self._llm_call(record)]
        if isinstance(record, ToolStarted):
            return self._delegation(record)
        if isinstance(record, ToolTried):
            self._tool_errors[(record.agent, record.tool)] = record.error
            return []
        return [self._tool_call(record)]

    def _task(self, record: TaskStarted) -> list[Payload]:
        step = self._steps.get(record.task_id)
        if step is None:
            return []  # not one of the crew's tasks (e.g. crewai's delegation sub-task)
        out: list[Payload] = []
        if self._agent and record.agent and record.agent != self._agent:
            context = {"task": step, "previous_task": self._step}
            handoff = {
                "from_agent": self._agent,
                "to_agent": record.agent,
                "reason": f"next task: {step}",
                "context": context,
            }
            out.append(("agent.handoff", handoff))
        self._agent, self._step = record.agent or self._agent, step
        return out

    def _llm_call(self, record: LLMEnded) -> Payload:
        started = self._llm.pop(record.call_id, None)
        usage = record.usage or {}
        tokens_in = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
        tokens_out = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
        latency = (record.at - started.at).total_seconds() * 1000 if started else 0.0
        payload: dict[str, Any] = {
            "model": record.model,
            "provider": record.provider,
            "agent": record.agent,
            "step": self._steps.get(record.task_id or "", self._step),
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "cost_usd": cost_usd(record.model, tokens_in, tokens_out),
            "latency_ms": max(0.0, latency),
            "request": jsonable(started.messages) if started else None,
            "response": jsonable(record.response),
        }
        if record.error is not None:
            match = _ERROR.match(record.error)
            kind, message = match.groups() if match else ("LLMCallFailed", record.error)
            payload["error"] = {"type": kind, "message": message}
        return "llm.call", payload

    def _delegation(self, record: ToolStarted) -> list[Payload]:
        reason = DELEGATION.get(record.tool)
        self._tool_errors[(record.agent, record.tool)] = None
        if reason is None or not record.agent:
            return []
        arguments = parse_arguments(record.arguments)
        arguments = arguments if isinstance(arguments, dict) else {}
        coworker = str(arguments.get("coworker") or "")
        to_agent = self._roles.get(coworker.strip().lower(), coworker)
        if not to_agent:
            return []
        context = {
            "step": self._step,
            "task": arguments.get("task") or arguments.get("question"),
            "context": arguments.get("context"),
        }
        handoff = {"from_agent": record.agent, "to_agent": to_agent, "reason": reason}
        return [("agent.handoff", {**handoff, "context": jsonable(context)})]

    def _tool_call(self, record: ToolCalled) -> Payload:
        error = record.error or self._tool_errors.pop((record.agent, record.tool), None)
        payload = {
            "tool": record.tool,
            "agent": record.agent,
            "step": self._step,
            "arguments": parse_arguments(record.arguments),
            "result": jsonable(record.result),
            "shown_to_agent": record.shown_to_agent,
            "latency_ms": max(0.0, record.latency_ms),
            "error": error,
        }
        return "tool.call", payload
