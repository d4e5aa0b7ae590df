"""Re-execution of a crew: every LLM and tool answered from a recording, none called.

:class:`RecordedCalls` holds the ``llm.call`` and ``tool.call`` payloads of a recorded run
in one queue per agent (crewai's agent role), in log order. When a crew runs with it
(``CrewRun(..., replay=calls)``):

- each agent's LLM (and the manager's) is replaced by a :class:`ReplayLLM` that returns the
  next recorded response of that agent, after checking the crew asked the same model the
  same messages;
- each tool call is checked against the agent's next recorded one and answered with the
  text the agent saw: the recorded ``shown_to_agent`` when set (crewai had appended its
  tool-format reminder to the tool's output, say), else the recorded ``result`` as text
  (:func:`~omium.adapters.crewai.payloads.shown_to_agent`). crewai's tool-call hooks block
  the real tool; see :mod:`omium.adapters.crewai.run`. Delegation tools are checked but
  run, so the coworker's own recorded calls answer it.

The first request that differs from the recording raises :class:`ReplayDiverged` with
both sides. Per-agent queues keep the check exact while allowing crewai to interleave
agents (delegation, async tasks).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from crewai.llms.base_llm import BaseLLM
from crewai.tools import BaseTool
from crewai.utilities.types import LLMMessage
from pydantic import BaseModel, PrivateAttr

from omium.adapters.crewai.llm import ScriptExhausted, answer_call, call_kwargs, usage_dict
from omium.schemas.base import Event


class ReplayDiverged(BaseException):  # noqa: N818 - mirrors processors.reexecute.Diverged
    """The re-executed crew asked for something the recording does not have.

    A ``BaseException`` so crewai's agent retry loop cannot swallow it and ask again.

    Attributes:
        where: which agent's which call (``agent 'Writer': llm call 2``).
        expected: what the recording has there (None: nothing more).
        actual: what the crew asked (None: it asked nothing more).
    """

    def __init__(self, where: str, expected: Any, actual: Any) -> None:
        super().__init__(f"{where}: {_difference(expected, actual)}")
        self.where, self.expected, self.actual = where, expected, actual


class RecordedLLMError(Exception):
    """A recorded LLM call failed; re-execution fails the same way."""


def normalized(value: Any) -> Any:
    """``value`` as plain JSON data, so recorded and live requests compare equal."""
    return json.loads(json.dumps(value, default=str))


class RecordedCalls:
    """The LLM and tool calls of a recorded run, answered in order per agent.

    Args:
        calls: ``(event type, payload)`` pairs in log order; types other than
            ``llm.call`` and ``tool.call`` are ignored.
    """

    def __init__(self, calls: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        self._queues: dict[str | None, deque[tuple[str, Mapping[str, Any]]]] = {}
        self._asked: dict[str | None, int] = {}
        self._lock = threading.Lock()
        self.answered = 0
        for kind, payload in calls:
            if kind in ("llm.call", "tool.call"):
                self._queues.setdefault(payload.get("agent"), deque()).append((kind, payload))

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> RecordedCalls:
        """From logged events (``LLMCall``/``ToolCall`` of one attempt, in order)."""
        return cls((e.type, e.payload.model_dump(mode="json")) for e in events)

    def take_llm(self, agent: str | None, model: str, messages: Any) -> Mapping[str, Any]:
        """The next recorded ``llm.call`` of ``agent``, if it asked the same.

        Raises:
            ReplayDiverged: it is not an LLM call, or the model or messages differ.
        """
        asked = {"model": model, "request": normalized(messages)}
        kind, payload, where = self._next(agent, "llm", asked)
        had = {"model": payload.get("model"), "request": normalized(payload.get("request"))}
        if kind != "llm.call" or had != asked:
            raise ReplayDiverged(where, _shape(kind, payload), asked)
        return payload

    def take_tool(self, agent: str | None, tool: str, arguments: Any) -> Mapping[str, Any]:
        """The next recorded ``tool.call`` of ``agent``, if it called the same tool alike.

        Raises:
            ReplayDiverged: it is not a tool call, or the tool or arguments differ.
        """
        asked = {"tool": tool, "arguments": normalized(arguments)}
        kind, payload, where = self._next(agent, "tool", asked)
        had = {"tool": payload.get("tool"), "arguments": normalized(payload.get("arguments"))}
        if kind != "tool.call" or had != asked:
            raise ReplayDiverged(where, _shape(kind, payload), asked)
        return payload

    def remaining(self) -> list[tuple[str, Mapping[str, Any]]]:
        """The recorded calls no one asked for (yet)."""
        with self._lock:
            return [call for queue in self._queues.values() for call in queue]

    def check_all_used(self) -> None:
        """Raise :class:`ReplayDiverged` naming the first recorded call that was not made."""
        left = self.remaining()
        if left:
            kind, payload = left[0]
            raise ReplayDiverged(
                f"agent {payload.get('agent')!r}: the crew finished, {len(left)} recorded "
                "call(s) were not made",
                _shape(kind, payload),
                None,
            )

    def _next(self, agent: str | None, kind: str, asked: Any) -> tuple[str, Mapping[str, Any], str]:
        with self._lock:
            count = self._asked[agent] = self._asked.get(agent, 0) + 1
            where = f"agent {agent!r}: call {count} ({kind})"
            queue = self._queues.get(agent)
            if not queue:
                raise ReplayDiverged(where, None, asked)
            self.answered += 1
            recorded_kind, payload = queue.popleft()
            return recorded_kind, payload, where


def _shape(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "llm.call":
        return {"model": payload.get("model"), "request": normalized(payload.get("request"))}
    return {"tool": payload.get("tool"), "arguments": normalized(payload.get("arguments"))}


def _difference(expected: Any, actual: Any) -> str:
    """One line: where the two sides first differ, with a short excerpt of each."""
    if expected is None:
        return f"the recording has no more calls, the crew asked {_excerpt(actual, 0)}"
    if actual is None:
        return f"the recording has {_excerpt(expected, 0)}"
    left, right = json.dumps(expected, sort_keys=True), json.dumps(actual, sort_keys=True)
    at = next((i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b), None)
    at = min(len(left), len(right)) if at is None else at
    return f"recorded {_excerpt(left, at)} but the crew asked {_excerpt(right, at)}"


def _excerpt(value: Any, at: int, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    start = max(0, at - width // 2)
    part = text[start : start + width]
    return f"{'…' if start else ''}{part}{'…' if start + width < len(text) else ''}"


class ReplayLLM(BaseLLM):
    """Stands in for an agent's LLM during re-execution; answers from :class:`RecordedCalls`.

    It keeps the original's ``model``, ``provider`` and function-calling support, so the
    prompts crewai builds are the ones it built when recording. Recorded token counts are
    reported again, so totals and costs match the recording.
    """

    recorded: Any
    function_calling: bool = False
    calls: int = 0
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def standing_in_for(cls, original: BaseLLM, recorded: RecordedCalls) -> ReplayLLM:
        """A replay LLM that looks like ``original`` to crewai."""
        supports = getattr(original, "supports_function_calling", None)
        return cls(
            model=original.model,
            provider=original.provider,
            recorded=recorded,
            function_calling=bool(supports and supports()),
            stop=list(original.stop),
            temperature=original.temperature,
        )

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        """Return the recorded response (crewai's ``BaseLLM.call`` contract)."""
        kwargs = call_kwargs(tools, callbacks, available_functions, from_task, from_agent)
        agent = getattr(from_agent, "role", None)

        def recorded() -> tuple[Any, dict[str, int]]:
            payload = self.recorded.take_llm(agent, self.model, messages)
            with self._lock:
                self.calls += 1
            error = payload.get("error")
            if error:
                message = f"{error.get('type')}: {error.get('message')}"
                if error.get("type") == ScriptExhausted.__name__:
                    raise ScriptExhausted(error.get("message"))
                raise RecordedLLMError(f"recorded failure: {message}")
            usage = usage_dict(payload.get("input_tokens", 0), payload.get("output_tokens", 0))
            return payload.get("response"), usage

        return answer_call(self, messages, kwargs, recorded)

    def supports_function_calling(self) -> bool:
        """Whatever the LLM it stands in for said, so crewai builds the same prompts."""
        return self.function_calling

    def get_input_tokens_count(
        self,
        messages: str | list[LLMMessage],
        tools: list[dict[str, BaseTool]] | None = None,
        response_model: type[BaseModel] | None = None,
    ) -> int:
        """Unused by replay; answered without crewai's warning."""
        return 0
