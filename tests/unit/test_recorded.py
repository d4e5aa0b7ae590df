"""The one recorded-call matcher every re-execution uses (pure: no log, no framework)."""

from __future__ import annotations

from typing import Any

import pytest

from omium.producers.recorded import Diverged, RecordedCalls, ReplaySink, difference


def llm(request: Any, response: Any, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "llm.call", {"model": "m", "request": request, "response": response, **extra}


def tool(arguments: Any, result: Any, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "tool.call", {"tool": "t", "arguments": arguments, "result": result, **extra}


def test_take__in_order_by_default() -> None:
    calls = RecordedCalls([llm("q1", "r1"), tool({"a": 1}, 2)], scope="step s")
    assert calls.take("llm", "m", "q1")["response"] == "r1"
    assert calls.take("tool", "t", {"a": 1})["result"] == 2
    assert calls.answered == 2 and calls.remaining() == []


def test_take__a_later_call_asked_first_is_a_divergence_in_order() -> None:
    calls = RecordedCalls([llm("q1", "r1"), llm("q2", "r2")], scope="step s")
    with pytest.raises(Diverged) as caught:
        calls.take("llm", "m", "q2")
    assert caught.value.where == "step s: call 1 (llm) differs"
    assert caught.value.expected == {"kind": "llm", "name": "m", "request": "q1"}
    assert caught.value.actual == {"kind": "llm", "name": "m", "request": "q2"}
    assert calls.diverged is caught.value


def test_take__any_order_matches_by_content() -> None:
    calls = RecordedCalls([llm("q1", "r1"), llm("q2", "r2")], any_order=True)
    assert calls.take("llm", "m", "q2")["response"] == "r2"
    assert calls.take("llm", "m", "q1")["response"] == "r1"
    with pytest.raises(Diverged, match="the recording has no more calls"):
        calls.take("llm", "m", "q3")


def test_take__any_order_names_a_call_not_recorded() -> None:
    calls = RecordedCalls([llm("q1", "r1")], any_order=True)
    with pytest.raises(Diverged) as caught:
        calls.take("llm", "other-model", "q1")
    assert caught.value.where == "call 1 (llm) not in the recording"


def test_take__queues_per_agent_interleave() -> None:
    calls = RecordedCalls([llm("a1", "x", agent="A"), llm("b1", "y", agent="B")], by="agent")
    assert calls.take("llm", "m", "b1", key="B")["response"] == "y"
    assert calls.take("llm", "m", "a1", key="A")["response"] == "x"


def test_take__compares_json_data_not_python_types() -> None:
    calls = RecordedCalls([tool([1, 2], "ok")])
    assert calls.take("tool", "t", (1, 2))["result"] == "ok"  # a tuple is recorded as a list


def test_check_all_used__names_the_first_call_not_made() -> None:
    calls = RecordedCalls([tool({}, 1, agent="A"), tool({}, 2, agent="A")], by="agent")
    calls.take("tool", "t", {}, key="A")
    with pytest.raises(Diverged) as caught:
        calls.check_all_used()
    assert caught.value.where == "agent 'A': 1 recorded call(s) were not made"
    assert caught.value.actual is None


async def test_replay_sink__answers_and_never_calls_the_provider() -> None:
    def provider() -> str:
        raise AssertionError("the provider was called")

    sink = ReplaySink(RecordedCalls([llm("q", "recorded"), tool({"x": 1}, "tool says")]))
    assert await sink.call("llm", "m", "q", provider) == "recorded"
    assert await sink.call("tool", "t", {"x": 1}, provider) == "tool says"


def test_difference__points_at_the_first_differing_character() -> None:
    text = difference({"q": "abcdef"}, {"q": "abcXef"})
    assert text.startswith("recorded ") and "abcdef" in text and "abcXef" in text
    assert difference(None, "asked") == "the recording has no more calls, the code asked asked"
    assert difference("had", None) == "the recording has had"


def test_take__compares_requests_as_the_semantic_function_reduces_them() -> None:
    def without_ids(kind: str, request: Any) -> Any:
        return {k: v for k, v in request.items() if k != "id"} if kind == "llm" else request

    recorded = [llm({"ask": "q", "id": "run-1"}, "r"), tool({"id": 7}, "t says")]
    calls = RecordedCalls(recorded, semantic=without_ids)
    assert calls.take("llm", "m", {"ask": "q", "id": "run-2"})["response"] == "r"
    with pytest.raises(Diverged) as caught:  # tool arguments compared as they are
        calls.take("tool", "t", {"id": 8})
    assert caught.value.expected == {"kind": "tool", "name": "t", "request": {"id": 7}}
