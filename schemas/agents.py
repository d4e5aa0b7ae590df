"""What agents did: ``agent.handoff``, ``llm.call``, ``tool.call``.

``llm.call`` and ``tool.call`` keep the request and the response so a run can be
re-executed with recorded answers instead of live providers.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, JsonValue

from omium.schemas.base import ErrorInfo, Event, Payload, Upcaster


class AgentHandoffPayload(Payload):
    """The payload of :class:`AgentHandoff`."""

    from_agent: str
    to_agent: str
    reason: str | None = None
    context: JsonValue = None


class AgentHandoff(Event):
    """Control passed from one agent to another."""

    type: Literal["agent.handoff"] = "agent.handoff"
    version: Literal[1] = 1
    payload: AgentHandoffPayload


class LLMCallPayload(Payload):
    """The payload of :class:`LLMCall`."""

    model: str
    provider: str | None = None
    agent: str | None = None
    step: str | None = None
    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    cost_usd: float | None = Field(None, ge=0)
    latency_ms: float = Field(0.0, ge=0)
    request: JsonValue = None
    response: JsonValue = None
    error: ErrorInfo | None = None


def _llm_call_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 counted ``prompt_tokens``/``completion_tokens`` and an unnamed-currency ``cost``.

    v2 uses the provider-neutral ``input_tokens``/``output_tokens`` and ``cost_usd``.
    """
    upgraded = dict(payload)
    upgraded["input_tokens"] = upgraded.pop("prompt_tokens", 0)
    upgraded["output_tokens"] = upgraded.pop("completion_tokens", 0)
    upgraded["cost_usd"] = upgraded.pop("cost", None)
    return upgraded


class LLMCall(Event):
    """One call to a language model, with its tokens, cost and latency."""

    MIGRATIONS: ClassVar[tuple[Upcaster, ...]] = (_llm_call_v1_to_v2,)

    type: Literal["llm.call"] = "llm.call"
    version: Literal[2] = 2
    payload: LLMCallPayload


class ToolCallPayload(Payload):
    """The payload of :class:`ToolCall`."""

    tool: str
    agent: str | None = None
    step: str | None = None
    arguments: JsonValue = None
    result: JsonValue = Field(None, description="what the tool returned")
    shown_to_agent: str | None = Field(
        None,
        description=(
            "the text the agent was handed, only when it is not result as text (e.g. the "
            "framework appended a reminder to it); re-execution hands the agent this"
        ),
    )
    error: ErrorInfo | None = None
    latency_ms: float = Field(0.0, ge=0)


class ToolCall(Event):
    """One tool invocation with its arguments and result (or error)."""

    type: Literal["tool.call"] = "tool.call"
    version: Literal[1] = 1
    payload: ToolCallPayload
