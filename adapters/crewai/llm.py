"""LLMs for crews: the offline :class:`ScriptedLLM` and :func:`make_llm` from a spec's ``llm``.

A scripted LLM answers from a list, in order. An answer is CrewAI's ReAct text, or a
mapping that reads better in YAML::

    llm:
      script:
        - {action: read_file, input: {path: notes.txt}}     # a tool call
        - {final: "three findings ..."}                      # the task's answer
        - |                                                   # or crewai's ReAct text
          Thought: I have what I need
          Final Answer: plain text works too

It reports what a real provider would: crewai's ``llm_call_started`` / ``completed``
events with token usage (about one token per four characters), so listeners, token
totals and cost work the same offline. ``calls`` counts the answers it gave.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from crewai import LLM
from crewai.events.types.llm_events import LLMCallType
from crewai.llms.base_llm import BaseLLM, llm_call_context
from crewai.tools import BaseTool
from crewai.utilities.types import LLMMessage
from pydantic import BaseModel, JsonValue, PrivateAttr

from omium.producers.recorded import ScriptExhausted
from omium.schemas import InvalidSpec
from omium.schemas.workflow_frameworks import LLMConfig


def render_answer(answer: JsonValue) -> str:
    """One script entry as ReAct text (see the module docs for the accepted shapes).

    Raises:
        ValueError: the entry is neither text nor an ``action``/``final`` mapping.
    """
    if isinstance(answer, str):
        return answer
    if isinstance(answer, dict) and "final" in answer:
        final = answer["final"]
        text = final if isinstance(final, str) else json.dumps(final)
        thought = answer.get("thought") or "I now know the final answer"
        return f"Thought: {thought}\nFinal Answer: {text}"
    if isinstance(answer, dict) and isinstance(answer.get("action"), str):
        action = str(answer["action"])
        given = answer.get("input", {})
        arguments = given if isinstance(given, str) else json.dumps(given)
        thought = answer.get("thought") or f"I should use {action}"
        return f"Thought: {thought}\nAction: {action}\nAction Input: {arguments}"
    raise ValueError(
        "expected ReAct text, {action: TOOL, input: {...}} or {final: ANSWER}, "
        f"got {json.dumps(answer)[:80]}"
    )


def estimate_tokens(messages: str | Sequence[Any]) -> int:
    """About one token per four characters of the messages' text (never less than 1)."""
    if isinstance(messages, str):
        chars = len(messages)
    else:
        chars = sum(
            len(str(m.get("content") or "")) if isinstance(m, dict) else 0 for m in messages
        )
    return max(1, (chars + 3) // 4)


def answer_call(
    llm: BaseLLM,
    messages: Any,
    kwargs: dict[str, Any],
    answer: Callable[[], tuple[Any, dict[str, int] | None]],
) -> Any:
    """Run one LLM call the way crewai's providers do, around ``answer``.

    Emits ``llm_call_started``, then ``llm_call_completed`` with the usage ``answer``
    returns (and counts it in the LLM's totals), or ``llm_call_failed`` if it raises.
    """
    from_task, from_agent = kwargs.get("from_task"), kwargs.get("from_agent")
    with llm_call_context():
        llm._emit_call_started_event(
            messages=messages,
            tools=kwargs.get("tools"),
            callbacks=kwargs.get("callbacks"),
            available_functions=kwargs.get("available_functions"),
            from_task=from_task,
            from_agent=from_agent,
        )
        try:
            response, usage = answer()
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"  # the payload builder reads the type back
            llm._emit_call_failed_event(error, from_task=from_task, from_agent=from_agent)
            raise
        if usage:
            llm._track_token_usage_internal(usage)
        llm._emit_call_completed_event(
            response=response,
            call_type=LLMCallType.LLM_CALL,
            from_task=from_task,
            from_agent=from_agent,
            messages=messages,
            usage=usage,
        )
        return response


def call_kwargs(
    tools: Any, callbacks: Any, available_functions: Any, from_task: Any, from_agent: Any
) -> dict[str, Any]:
    """The arguments of ``BaseLLM.call`` that :func:`answer_call` passes on to the events."""
    return {
        "tools": tools,
        "callbacks": callbacks,
        "available_functions": available_functions,
        "from_task": from_task,
        "from_agent": from_agent,
    }


def usage_dict(input_tokens: int, output_tokens: int) -> dict[str, int]:
    """A provider-style usage mapping crewai understands."""
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "successful_requests": 1,
    }


class ScriptedLLM(BaseLLM):
    """An LLM that answers from a script, for offline runs and tests (see the module docs).

    Attributes:
        answers: the script, in order.
        agent: who it answers for, named in the error when the script runs out.
        calls: how many answers it gave.
        requests: the messages of every call, in order (what the crew asked).
    """

    provider: str = "scripted"
    answers: list[JsonValue] = []
    agent: str | None = None
    calls: int = 0
    requests: list[Any] = []
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, answers: Sequence[JsonValue] = (), **data: Any) -> None:
        data.setdefault("model", "scripted")
        data.setdefault("provider", "scripted")  # else crewai guesses one from the model name
        for index, answer in enumerate(answers):
            try:
                render_answer(answer)
            except ValueError as exc:
                raise ValueError(f"answer {index}: {exc}") from None
        super().__init__(answers=list(answers), **data)

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
        """Give the next scripted answer (crewai's ``BaseLLM.call`` contract)."""
        kwargs = call_kwargs(tools, callbacks, available_functions, from_task, from_agent)

        def next_answer() -> tuple[str, dict[str, int]]:
            with self._lock:
                self.requests.append(messages)
                index = self.calls
                if index >= len(self.answers):
                    raise ScriptExhausted(self._exhausted(kwargs.get("from_agent")))
                self.calls += 1
            text = render_answer(self.answers[index])
            return text, usage_dict(estimate_tokens(messages), estimate_tokens(text))

        return answer_call(self, messages, kwargs, next_answer)

    def _exhausted(self, from_agent: Any) -> str:
        who = self.agent or getattr(from_agent, "role", None) or "an agent"
        had = len(self.answers)
        if had == 0:
            return f"the scripted LLM of {who!r} has no answers (give llm.script or llm.fixture)"
        return (
            f"the scripted LLM of {who!r} ran out of answers: its script has {had} "
            f"and the crew asked for answer {had + 1}"
        )

    def supports_function_calling(self) -> bool:
        """No: crewai then drives tools through ReAct text, which a script can hold."""
        return False

    def get_input_tokens_count(
        self,
        messages: str | list[LLMMessage],
        tools: list[dict[str, BaseTool]] | None = None,
        response_model: type[BaseModel] | None = None,
    ) -> int:
        """The same estimate the usage reports, without crewai's warning."""
        return estimate_tokens(messages)


def load_script(config: LLMConfig, folder: Path, where: str) -> list[JsonValue]:
    """The answers of a scripted ``config``: its ``script`` or its ``fixture`` file.

    Raises:
        InvalidSpec: both or a bad fixture file, or an entry of an unknown shape.
    """
    if config.script is not None and config.fixture is not None:
        raise InvalidSpec(f"{where}: give 'script' or 'fixture', not both")
    answers: Any = config.script or []
    if config.fixture is not None:
        path = folder / config.fixture
        try:
            text = path.read_text()
        except OSError as exc:
            raise InvalidSpec(f"{where}.fixture: cannot read {path}: {exc.strerror}") from None
        try:
            answers = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0]
            raise InvalidSpec(
                f"{where}.fixture: {path.name} is not valid YAML/JSON: {first}"
            ) from None
        if not isinstance(answers, list):
            raise InvalidSpec(
                f"{where}.fixture: {path.name} must hold a list of answers, "
                f"got {type(answers).__name__}"
            )
    for index, answer in enumerate(answers):
        try:
            render_answer(answer)
        except ValueError as exc:
            source = f"{where}.fixture[{index}]" if config.fixture else f"{where}.script[{index}]"
            raise InvalidSpec(f"{source}: {exc}") from None
    return list(answers)


def llm_recipe(
    config: LLMConfig | None, folder: Path, *, where: str = "llm", agent: str | None = None
) -> Callable[[], BaseLLM]:
    """Check ``config`` now; return a function building a fresh LLM each time it is called.

    Raises:
        InvalidSpec: see :func:`load_script`; or a provider crewai cannot build.
    """
    if config is None or config.provider == "scripted":
        answers = load_script(config, folder, where) if config else []
        model = config.model if config else "scripted"
        temperature = config.temperature if config else None

        def scripted() -> BaseLLM:
            return ScriptedLLM(answers, model=model, agent=agent, temperature=temperature)

        return scripted
    if config.script is not None or config.fixture is not None:
        raise InvalidSpec(
            f"{where}: 'script' and 'fixture' are for provider 'scripted', not {config.provider!r}"
        )
    name = f"{config.provider}/{config.model}"

    def provider() -> BaseLLM:
        return LLM(model=name, temperature=config.temperature)

    try:
        provider()  # constructing checks the provider's package is installed; it sends nothing
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidSpec(f"{where}: cannot use model {name!r}: {first}") from None
    return provider


def make_llm(config: LLMConfig | None, folder: Path) -> BaseLLM:
    """One LLM for one agent from a spec's ``llm`` section (``None``: an empty script).

    ``provider: scripted`` (the default) answers from ``script`` or the ``fixture`` file
    (relative to ``folder``); any other provider is ``crewai.LLM("provider/model")``.

    Raises:
        InvalidSpec: naming the field, see :func:`llm_recipe`.
    """
    return llm_recipe(config, folder)()
