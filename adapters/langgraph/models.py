"""Chat models and tools whose calls omium records, and answers from the log on replay.

Wrap what a graph's nodes call, once, where the graph is built::

    model = record_model(ChatOpenAI(model="gpt-4o-mini"))  # or ScriptedChatModel(...)
    search = record_tool(search)  # a function or a LangChain tool: await search.ainvoke({...})

Each call then goes through :func:`omium.producers.llm_call` / ``tool_call``: in a run the
executor records an ``llm.call`` / ``tool.call`` event (request, response, tokens,
latency); when ``omium replay --reexecute`` runs the graph again the recorded answer is
returned and the provider is never called. Outside omium the wrappers just call through.

Both are what LangChain expects, so prebuilt agents take them: a recorded model binds
tools (``bind_tools``, as its inner model formats them), a recorded tool is a
``BaseTool`` (``create_react_agent(model, [record_tool(search)])``, ``ToolNode``). A
re-executed call is matched by :func:`semantic_request`: what is asked, not the ids
LangGraph gives messages (and ``ToolNode`` its results) anew on every run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, messages_from_dict, messages_to_dict
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

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

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Take tools as a provider's model does (the script decides which it calls)."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

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
        """Bind tools as the inner model formats them; the wrapper still records the calls."""
        if not _binds(self.inner):
            return self
        bound = self.inner.bind_tools(tools, **kwargs)
        if isinstance(bound, RunnableBinding) and bound.bound is self.inner:
            # the provider's own tool arguments, given to it through the wrapper's calls
            return self.bind(**bound.kwargs)
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


class RecordedTool(BaseTool):
    """A LangChain tool whose calls are recorded (see the module docs).

    Call it as any tool (``await tool.ainvoke({...})``, ``tool.invoke({...})``) or give it
    to a prebuilt agent. Its result is returned as JSON (see
    :func:`~omium.adapters.jsonable.jsonable`), live and on replay alike, so a re-executed
    node sees exactly what the recorded one saw.
    """

    #: the tool that runs when the call is not answered from the log
    inner: BaseTool

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        arguments = _arguments(args, kwargs)

        def run() -> Any:
            return jsonable(self.inner.invoke(arguments))

        return call_sync("tool", self.name, jsonable(arguments), run)

    async def _arun(self, *args: Any, **kwargs: Any) -> Any:
        arguments = _arguments(args, kwargs)

        async def run() -> Any:
            return jsonable(await self.inner.ainvoke(arguments))

        return await tool_call(self.name, jsonable(arguments), run)


def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The tool input as the inner tool takes it (a string input arrives positionally)."""
    return args[0] if args and not kwargs else kwargs


def record_tool(tool: Callable[..., Any] | BaseTool, name: str | None = None) -> RecordedTool:
    """``tool`` (a function or a LangChain tool) with its calls recorded."""
    if not isinstance(tool, BaseTool):
        label = name or getattr(tool, "__name__", "tool")
        description = inspect.getdoc(tool) or label
        if inspect.iscoroutinefunction(tool):
            tool = StructuredTool.from_function(coroutine=tool, name=label, description=description)
        else:
            tool = StructuredTool.from_function(func=tool, name=label, description=description)
    return RecordedTool(
        name=name or tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        return_direct=tool.return_direct,
        inner=tool,
    )


def semantic_request(kind: str, request: Any) -> Any:
    """What of a model request re-execution compares (``RecordedCalls(semantic=...)``).

    Each message's type, content, name and tool calls (names and arguments): not the ids
    LangGraph gives input messages and ``ToolNode`` its results on every run, nor the
    tool call ids those results refer to. Tool calls' arguments are compared as they are.
    """
    if kind != "llm" or not isinstance(request, dict):
        return request
    messages = request.get("messages")
    if not isinstance(messages, list):
        return request
    return {**request, "messages": [_meaning(m) for m in messages]}


def semantic_output(value: Any) -> Any:
    """A node's output as re-execution compares it: messages without their generated ids."""
    if isinstance(value, list):
        return [semantic_output(v) for v in value]
    if not isinstance(value, dict):
        return value
    message = "type" in value and "content" in value
    return {k: semantic_output(v) for k, v in value.items() if not (message and k == "id")}


def _meaning(message: Any) -> Any:
    if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
        return message
    data = message["data"]
    content = data.get("content")
    if isinstance(content, list):  # content blocks (tool use, images) may carry ids too
        content = [_without_id(block) for block in content]
    kept: dict[str, Any] = {"type": message.get("type"), "content": content}
    for key in ("name", "status"):
        if data.get(key) is not None:
            kept[key] = data[key]
    calls = data.get("tool_calls")
    if calls:
        kept["tool_calls"] = [_without_id(call) for call in calls]
    return kept


def _without_id(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "id"}
    return value
