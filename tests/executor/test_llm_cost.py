"""Every path that records an ``llm.call`` prices it from ``omium.producers.pricing``.

The paths: :func:`omium.producers.llm_call` in a recording (the SDK), in a python step run
by the executor, and a LangGraph model wrapped with ``record_model`` in a graph run (CrewAI
prices its own calls: tests/adapters/test_crewai_run.py). All three build their payload
in ``producers/calls.py: call_payload``, which the lead owns for now: until it calls
``cost_usd`` these tests are expected to fail.
"""

from __future__ import annotations

from typing import Any

import pytest
from harness import Harness, spec

from omium.producers import EventLog, llm_call, recording
from omium.producers.pricing import cost_usd
from omium.schemas import LLMCall
from omium.schemas.workflow import WorkflowSpec


async def test_sdk_llm_call__records_its_cost(log: EventLog) -> None:
    def provider() -> dict[str, Any]:
        return {"usage": {"input_tokens": 12_000, "output_tokens": 800}}

    async with recording(log, "ex-cost-sdk") as rec:
        await llm_call("openai/gpt-4o-mini-2024-07-18", {"q": "?"}, provider)
        execution_id = rec.execution_id
    [call] = [r.event() for r in await log.read_execution(execution_id)]
    assert isinstance(call, LLMCall)
    assert call.payload.cost_usd == pytest.approx(0.00228)  # 12k in, 800 out at 0.15/0.60


async def test_python_step__records_the_cost_of_its_llm_call(harness: Harness) -> None:
    await harness.start_worker()
    ex = await harness.submit(spec("priced_call"))
    view = await harness.finished(ex)
    assert view.status == "completed", view.error
    [call] = [e for e in await harness.events(ex) if isinstance(e, LLMCall)]
    assert call.payload.cost_usd == pytest.approx(cost_usd("gpt-4o-mini", 12_000, 800))
    assert view.usage.cost_usd == pytest.approx(0.00228)


async def test_langgraph_recorded_model__records_its_cost(harness: Harness) -> None:
    await harness.start_worker()
    graph = {"name": "priced", "framework": "langgraph", "graph": "flow_graphs:priced"}
    ex = await harness.submit(WorkflowSpec.model_validate(graph))
    view = await harness.finished(ex)
    assert view.status == "completed", view.error
    [call] = [e for e in await harness.events(ex) if isinstance(e, LLMCall)]
    tokens = (call.payload.input_tokens, call.payload.output_tokens)
    assert tokens == (7, 3)  # the scripted model counts words
    assert call.payload.cost_usd == pytest.approx(cost_usd("gpt-4o-mini", *tokens))
    assert call.payload.cost_usd
