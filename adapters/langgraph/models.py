"""Chat models and tools whose calls omium records, and answers from the log on replay.

Wrap what a graph's nodes call, once, where the graph is built::

    model = record_model(ChatOpenAI(model="gpt-4o-mini"))  # or ScriptedChatModel(...)
    search = record_tool(search)  # a function or a LangChain tool: await search.ainvoke({...})

Each call then goes through :func:`omium.producers.llm_call` / ``tool_call``: in a run the
executor records an ``llm.call`` / ``tool.call`` event (request, response, tokens,
latency); when ``omium replay --reexecute`` runs the graph again the recorded answer is
returned and the provider is never called. Outside omium the wrappers just call through.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, messages_from_dict, messages_to_dict
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool

from omium.adapters.jsonable import jsonable
from omium.producers.calls import call_sync, llm_call, tool_call
from omium.producers.recorded import ScriptExhausted


class ScriptedChatModel(BaseChatModel):
    """A chat model that answers from a script: examples and tests need no key.

    ``script`` answers in order. ``rules`` answer by content instead: the first rule whose
    ``when`` occurs in the last message answers (a graph resumed after a crash, or re-run
    from a checkpoint, asks again from the middle; rules still fit). Each answer is a string,
    or a dict with ``content`` and optional ``tool_calls`` (``[{"name": ..., "args": {...}}]``).
    Token usage is counted as words, so analytics and cost reports have numbers to show.
    ``calls`` counts this instance's calls, ``total_calls`` every instance's.
    """

    script: list[Any] = []
    rules: list[dict[str, Any]] = []
    model: str = "scripted"
    calls: int = 0
    total_calls: ClassVar[int] = 0

    @property
    def _llm_type(self) -> str:
        return "omium-scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        answer = self._answer(str(messages[-1].content) if messages else "")
        self.calls += 1
        ScriptedChatModel.total_calls += 1
        content = answer if isinstance(answer, str) else str(answer.get("content", ""))
        tool_calls = [] if isinstance(answer, str) else answer.get("tool_calls", [])
        words_in = sum(len(str(m.content).split()) for m in messages)
        message = AIMessage(
            content=content,
            tool_calls=[
                {"name": c["name"], "args": c.get("args", {}), "id": f"call_{self.calls}_{i}"}
                for i, c in enumerate(tool_calls)
            ],
            usage_metadata={
                "input_tokens": words_in,
                "output_tokens": len(content.split()),
                "total_tokens": words_in + len(content.split()),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _answer(self, last: str) -> Any:
        for rule in self.rules:
            if str(rule.get("when", "")) in last:
                return rule.get("answer", "")
        if self.calls < len(self.script):
            return self.script[self.calls]
        raise ScriptExhausted(
            f"scripted model {self.model!r}: no rule matches {last[:60]!r} and the script's "
            f"{len(self.script)} answers are used up; add a rule or an answer"
        )


def _response(message: BaseMessage) -> dict[str, Any]:
    """What ``llm.call`` records of an answer (``usage`` is read for tokens)."""
    [data] = messages_to_dict([message])
    usage = getattr(message, "usage_metadata", None) or {}
    return {"message": jsonable(data), "usage": jsonable(usage)}


class RecordedChatModel(BaseChatModel):
    """Wraps a chat model so every call is recorded (see the module docs)."""

    inner: BaseChatModel
    name_: str = "model"

    @property
    def _llm_type(self) -> str:
        return f"omium-recorded-{self.inner._llm_type}"

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        request: dict[str, Any] = {"messages": jsonable(messages_to_dict(messages))}
        if stop:
            request["stop"] = stop
        return request

    @staticmethod
    def _result(response: Any) -> ChatResult:
        [message] = messages_from_dict([response["message"]])
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        def call() -> dict[str, Any]:
            return _response(self.inner.invoke(messages, stop=stop, **kwargs))

        request = self._request(messages, stop)
        return self._result(call_sync("llm", self.name_, request, call))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        async def call() -> dict[str, Any]:
            return _response(await self.inner.ainvoke(messages, stop=stop, **kwargs))

        return self._result(await llm_call(self.name_, self._request(messages, stop), call))

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        """Bind tools on the inner model when it can; the wrapper still records the calls."""
        bound = self.inner.bind_tools(tools, **kwargs) if _binds(self.inner) else self.inner
        if isinstance(bound, BaseChatModel):
            return RecordedChatModel(inner=bound, name_=self.name_)
        return self


def _binds(model: BaseChatModel) -> bool:
    try:
        return type(model).bind_tools is not BaseChatModel.bind_tools
    except AttributeError:
        return False


def record_model(model: BaseChatModel, name: str | None = None) -> RecordedChatModel:
    """``model`` with its calls recorded (``name``: the model name in events)."""
    label = name or getattr(model, "model", None) or getattr(model, "model_name", None)
    return RecordedChatModel(inner=model, name_=str(label or model._llm_type))


class RecordedTool:
    """A tool whose calls are recorded: ``await tool.ainvoke({...})`` or ``tool.invoke({...})``.

    Its result is returned as JSON (see :func:`~omium.adapters.jsonable.jsonable`), live and
    on replay alike, so a re-executed node sees exactly what the recorded one saw.
    """

    def __init__(self, tool: Callable[..., Any] | BaseTool, name: str | None = None) -> None:
        self.tool = tool
        default = tool.name if isinstance(tool, BaseTool) else getattr(tool, "__name__", "tool")
        self.name = name or str(default)

    async def _run(self, arguments: dict[str, Any]) -> Any:
        tool = self.tool
        if isinstance(tool, BaseTool):
            return jsonable(await tool.ainvoke(arguments))
        if inspect.iscoroutinefunction(tool):
            return jsonable(await tool(**arguments))
        return jsonable(await asyncio.to_thread(tool, **arguments))

    async def ainvoke(self, arguments: dict[str, Any]) -> Any:
        """Call the tool with ``arguments`` (recorded, or answered from the log on replay)."""
        return await tool_call(self.name, jsonable(arguments), lambda: self._run(arguments))

    def invoke(self, arguments: dict[str, Any]) -> Any:
        """:meth:`ainvoke` for sync nodes (they run on a worker thread)."""
        tool = self.tool

        def run() -> Any:
            if isinstance(tool, BaseTool):
                return jsonable(tool.invoke(arguments))
            return jsonable(tool(**arguments))

        return call_sync("tool", self.name, jsonable(arguments), run)


def record_tool(tool: Callable[..., Any] | BaseTool, name: str | None = None) -> RecordedTool:
    """``tool`` (a function or a LangChain tool) with its calls recorded."""
    return RecordedTool(tool, name)
