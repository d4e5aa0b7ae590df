"""Re-execution of a crew: every LLM and tool answered from a recording, none called.

:func:`crew_calls` holds the ``llm.call`` and ``tool.call`` payloads of a recorded run in
one :class:`~omium.producers.recorded.RecordedCalls` queue per agent (crewai's agent role),
in log order. When a crew runs with it (``CrewRun(..., replay=calls)``):

- each agent's LLM (and the manager's) is replaced by a :class:`ReplayLLM` that returns the
  next recorded response of that agent, after checking the crew asked the same model the
  same messages;
- each tool call is checked against the agent's next recorded one and answered with the
  text the agent saw: the recorded ``shown_to_agent`` when set (crewai had appended its
  tool-format reminder to the tool's output, say), else the recorded ``result`` as text
  (:func:`~omium.adapters.crewai.payloads.shown_to_agent`). crewai's tool-call hooks block
  the real tool; see :mod:`omium.adapters.crewai.run`. Delegation tools are checked but
  run, so the coworker's own recorded calls answer it.

The first request that differs from the recording raises
:class:`~omium.producers.recorded.Diverged` with both sides. Per-agent queues keep the check
exact while allowing crewai to interleave agents (delegation, async tasks).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from crewai.llms.base_llm import BaseLLM
from crewai.tools import BaseTool
from crewai.utilities.types import LLMMessage
from pydantic import BaseModel, PrivateAttr

from omium.adapters.crewai.llm import answer_call, call_kwargs, usage_dict
from omium.producers.recorded import RecordedCalls, ScriptExhausted
from omium.schemas.errors import RecordedLLMError


def crew_calls(calls: Iterable[tuple[str, Mapping[str, Any]]]) -> RecordedCalls:
    """A crew's recorded calls: one queue per agent (crewai's agent role), in log order."""
    return RecordedCalls(calls, by="agent")


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
            payload = self.recorded.take("llm", self.model, messages, key=agent)
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
