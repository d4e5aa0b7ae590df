"""Building crews and LLMs from specs, the scripted LLM, prices, payloads and recordings."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from crewai import Crew, Process
from crewai.tools import BaseTool

from omium.adapters.crewai import (
    ScriptedLLM,
    crew_calls,
    crew_factory,
    make_llm,
    render_answer,
)
from omium.adapters.crewai.payloads import (
    LLMEnded,
    LLMStarted,
    PayloadBuilder,
    TaskStarted,
    ToolCalled,
    ToolStarted,
    ToolTried,
)
from omium.adapters.pricing import cost_usd, price_of
from omium.producers.recorded import Diverged, ScriptExhausted
from omium.schemas import InvalidSpec
from omium.schemas.workflow_frameworks import LLMConfig
from omium.services.workflows import parse_spec

TOOLS = '''
from crewai import Agent, Crew, Task
from crewai.tools import BaseTool

from omium.adapters.crewai import ScriptedLLM


class Shout(BaseTool):
    name: str = "shout"
    description: str = "Upper-cases text."

    def _run(self, text: str) -> str:
        return text.upper()


SHOUT = Shout()
NOT_A_TOOL = 42


def count(text: str) -> int:
    """Count characters."""
    return len(text)


def undocumented(text: str) -> int:
    return 0


def build() -> Crew:
    agent = Agent(role="Solo", goal="g", backstory="b", llm=ScriptedLLM([{"final": "ok"}]))
    return Crew(agents=[agent], tasks=[Task(description="d", expected_output="e", agent=agent)])


def not_a_crew() -> dict:
    return {}


CREW = build()
'''


def spec(body: str) -> str:
    return f"name: t\nframework: crewai\n{body}"


INLINE = spec("""
llm: {script: [{final: "default answer"}]}
agents:
  - {name: a, role: Alpha, goal: "goal of {topic}", tools: [tools:SHOUT, tools:Shout, tools:count]}
  - {name: b, role: Beta, goal: g, allow_delegation: true, max_iter: 3,
     llm: {fixture: beta.yaml}}
tasks:
  - {name: one, description: "do {topic}", expected_output: x, agent: a}
  - {name: two, description: d, expected_output: y, agent: b, context: [one], tools: [tools:count]}
""")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "tools.py").write_text(TOOLS)
    (tmp_path / "beta.yaml").write_text("- {final: from the fixture}\n")
    return tmp_path


def build(text: str, folder: Path) -> Crew:
    return crew_factory(parse_spec(text, "crew.yaml"), folder, "crew.yaml")()


def test_offline_env__set_before_crewai_runs() -> None:
    assert os.environ["CREWAI_DISABLE_TELEMETRY"] == "true"
    assert os.environ["OTEL_SDK_DISABLED"] == "true"
    assert os.environ["CREWAI_TRACING_ENABLED"] == "false"
    assert os.environ["CREWAI_TESTING"] == "true"
    assert Path(os.environ["CREWAI_STORAGE_DIR"]).is_absolute()


def test_inline_crew__agents_tasks_tools_and_llms(folder: Path) -> None:
    crew = build(INLINE, folder)

    alpha, beta = crew.agents
    assert (alpha.role, beta.role, beta.allow_delegation, beta.max_iter) == (
        "Alpha",
        "Beta",
        True,
        3,
    )
    assert [t.name for t in alpha.tools] == ["shout", "shout", "count"]
    assert all(isinstance(t, BaseTool) for t in alpha.tools)
    assert isinstance(alpha.llm, ScriptedLLM) and alpha.llm.answers == [{"final": "default answer"}]
    assert isinstance(beta.llm, ScriptedLLM) and beta.llm.answers == [{"final": "from the fixture"}]
    one, two = crew.tasks
    assert (one.name, one.agent, two.agent) == ("one", alpha, beta)
    assert two.context == [one] and [t.name for t in two.tools] == ["count"]
    assert crew.process == Process.sequential


def test_inline_crew__each_call_builds_fresh_agents_llms_and_tools(folder: Path) -> None:
    factory = crew_factory(parse_spec(INLINE, "crew.yaml"), folder)
    first, second = factory(), factory()

    assert first.agents[0] is not second.agents[0]
    assert first.agents[0].llm is not second.agents[0].llm
    assert first.agents[0].llm is not first.agents[1].llm  # one LLM per agent
    assert first.agents[0].tools[0] is not second.agents[0].tools[0]


def test_inline_crew__placeholders_filled_by_kickoff(folder: Path) -> None:
    crew = build(INLINE, folder)
    crew._interpolate_inputs({"topic": "Kafka"})
    assert crew.tasks[0].description == "do Kafka" and crew.agents[0].goal == "goal of Kafka"


def test_hierarchical_crew__manager_llm(folder: Path) -> None:
    text = spec("""
process: hierarchical
manager_llm: {script: [{final: done}]}
agents: [{name: a, role: Alpha, goal: g}]
tasks: [{name: one, description: d, expected_output: x}]
""")
    crew = build(text, folder)
    assert crew.process == Process.hierarchical
    assert isinstance(crew.manager_llm, ScriptedLLM) and crew.manager_llm.answers == [
        {"final": "done"}
    ]
    assert crew.tasks[0].agent is None


def test_crew_function__builds_through_the_users_factory(folder: Path) -> None:
    crew = build(spec("crew: tools:build\n"), folder)
    assert [a.role for a in crew.agents] == ["Solo"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("crew: tools:missing\n", "crew.yaml: crew: module 'tools' has no 'missing'"),
        ("crew: nope:build\n", "crew.yaml: crew: no module 'nope'"),
        ("crew: tools:CREW\n", "crew.yaml: crew: tools:CREW is a Crew; give a function"),
        ("crew: tools:NOT_A_TOOL\n", "crew.yaml: crew: tools:NOT_A_TOOL is a int, not a function"),
    ],
)
def test_crew_function__errors_name_the_field(folder: Path, body: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        build(spec(body), folder)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_crew_function__returning_something_else_is_refused(folder: Path) -> None:
    with pytest.raises(
        InvalidSpec, match=r"crew: tools:not_a_crew\(\) returned a dict, not a Crew"
    ):
        build(spec("crew: tools:not_a_crew\n"), folder)


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        ("tools:NOT_A_TOOL", "agents[0].tools[0]: tools:NOT_A_TOOL is a int; expected a crewai"),
        ("tools:undocumented", "agents[0].tools[0]: cannot make a tool of tools:undocumented"),
        ("tolls:count", "agents[0].tools[0]: no module 'tolls'"),
        ("tools:gone", "agents[0].tools[0]: module 'tools' has no 'gone'"),
    ],
)
def test_tools__errors_name_the_field(folder: Path, tool: str, message: str) -> None:
    text = spec(f"""
agents: [{{name: a, role: A, goal: g, tools: ["{tool}"]}}]
tasks: [{{name: one, description: d, expected_output: x, agent: a}}]
""")
    with pytest.raises(InvalidSpec) as caught:
        build(text, folder)
    assert str(caught.value).startswith(f"crew.yaml: {message}"), str(caught.value)


@pytest.mark.parametrize(
    ("llm", "message"),
    [
        ("{fixture: missing.yaml}", "crew.yaml: agents[0].llm.fixture: cannot read"),
        ("{script: [{final: x}], fixture: beta.yaml}", "crew.yaml: agents[0].llm: give 'script'"),
        ("{script: [42]}", "crew.yaml: agents[0].llm.script[0]: expected ReAct text"),
        ("{provider: openai, model: gpt-4o, script: [x]}", "crew.yaml: agents[0].llm: 'script'"),
    ],
)
def test_llm__errors_name_the_field(folder: Path, llm: str, message: str) -> None:
    text = spec(f"""
agents: [{{name: a, role: A, goal: g, llm: {llm}}}]
tasks: [{{name: one, description: d, expected_output: x, agent: a}}]
""")
    with pytest.raises(InvalidSpec) as caught:
        build(text, folder)
    assert str(caught.value).startswith(message), str(caught.value)


def test_spec_problems__are_one_line_invalid_specs(folder: Path) -> None:
    text = spec("tasks: [{name: one, description: d, expected_output: x, agent: ghost}]\n")
    with pytest.raises(InvalidSpec, match="task 'one': no agent named 'ghost'"):
        parse_spec(text, "crew.yaml")


def test_make_llm__scripted_from_script_or_fixture(folder: Path) -> None:
    scripted = make_llm(LLMConfig(script=["Thought: t\nFinal Answer: x"]), folder)
    fixture = make_llm(LLMConfig(fixture="beta.yaml", model="gpt-4o"), folder)
    empty = make_llm(None, folder)

    assert isinstance(scripted, ScriptedLLM) and scripted.provider == "scripted"
    assert isinstance(fixture, ScriptedLLM) and fixture.model == "gpt-4o"
    assert isinstance(empty, ScriptedLLM) and empty.answers == []
    assert not scripted.supports_function_calling()


def test_make_llm__a_real_provider_is_crewais_llm_and_sends_nothing(folder: Path) -> None:
    llm = make_llm(LLMConfig(provider="openai", model="gpt-4o-mini", temperature=0.0), folder)
    assert not isinstance(llm, ScriptedLLM)
    assert (llm.model, llm.provider, llm.temperature) == ("gpt-4o-mini", "openai", 0.0)


def test_make_llm__an_unknown_provider_is_an_invalid_spec(folder: Path) -> None:
    with pytest.raises(InvalidSpec, match="llm: cannot use model 'nowhere/x'"):
        make_llm(LLMConfig(provider="nowhere", model="x"), folder)


def test_render_answer__react_text_from_mappings() -> None:
    assert render_answer({"action": "count", "input": {"text": "hi"}}) == (
        'Thought: I should use count\nAction: count\nAction Input: {"text": "hi"}'
    )
    assert render_answer({"final": {"n": 1}, "thought": "done"}) == (
        'Thought: done\nFinal Answer: {"n": 1}'
    )
    assert render_answer("Thought: t\nFinal Answer: x") == "Thought: t\nFinal Answer: x"
    with pytest.raises(ValueError, match="expected ReAct text"):
        render_answer({"say": "hi"})


def test_scripted_llm__answers_in_order_counts_and_runs_out_clearly() -> None:
    llm = ScriptedLLM([{"final": "one"}, "Thought: t\nFinal Answer: two"], agent="writer")
    messages = [{"role": "user", "content": "x" * 40}]

    assert llm.call(messages).endswith("Final Answer: one")
    assert llm.call(messages).endswith("Final Answer: two")
    assert llm.calls == 2
    usage = llm.get_token_usage_summary()
    assert (usage.prompt_tokens, usage.successful_requests) == (20, 2)
    with pytest.raises(ScriptExhausted) as caught:
        llm.call(messages)
    assert str(caught.value) == (
        "the scripted LLM of 'writer' ran out of answers: its script has 2 "
        "and the crew asked for answer 3"
    )
    assert llm.calls == 2


def test_pricing__longest_prefix_provider_prefix_and_unknown() -> None:
    assert price_of("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert price_of("openai/gpt-4o") == (2.50, 10.00)
    assert price_of("anthropic/claude-3-5-sonnet-20241022") == (3.00, 15.00)
    assert cost_usd("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)
    assert cost_usd("gpt-4o-mini", 12_000, 800) == pytest.approx(0.00228)
    assert cost_usd("scripted", 10**6, 10**6) == 0.0
    assert cost_usd("my-finetune", 10, 10) is None
    assert cost_usd("gpt-4oxyz", 10, 10) is None  # a prefix only counts up to a '-'


def test_payload_builder__pairs_llm_calls_and_names_steps() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    builder = PayloadBuilder([("t1", "research")], ["Researcher"])

    assert builder.feed(TaskStarted("t1", "Researcher")) == []
    assert builder.feed(LLMStarted("c1", [{"role": "user", "content": "hi"}], at)) == []
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    ended = LLMEnded(
        "c1",
        "Researcher",
        "t1",
        "gpt-4o",
        "openai",
        "ok",
        usage,
        None,
        at + timedelta(milliseconds=250),
    )
    [(kind, payload)] = builder.feed(ended)

    assert kind == "llm.call"
    assert payload["step"] == "research" and payload["latency_ms"] == 250.0
    assert payload["cost_usd"] == pytest.approx(cost_usd("gpt-4o", 1000, 100))
    assert payload["request"] == [{"role": "user", "content": "hi"}]
    failed = LLMEnded("c2", "Researcher", None, "x", None, None, None, "ScriptExhausted: out", at)
    assert builder.feed(failed)[0][1]["error"] == {"type": "ScriptExhausted", "message": "out"}


def test_payload_builder__delegation_and_task_handoffs_and_tool_errors() -> None:
    builder = PayloadBuilder([("t1", "plan"), ("t2", "write")], ["Researcher", "Writer"])
    builder.feed(TaskStarted("t1", "Crew Manager"))
    args = '{"task": "dig", "context": "c", "coworker": "researcher "}'

    [(kind, handoff)] = builder.feed(ToolStarted("delegate_work_to_coworker", "Crew Manager", args))
    builder.feed(ToolStarted("add", "Researcher", {"a": 1}))
    builder.feed(ToolTried("add", "Researcher", {"type": "ValueError", "message": "bad"}))
    [(_, failed)] = builder.feed(ToolCalled("add", "Researcher", {"a": 1}, "it failed", 3.0))
    [(_, later)] = builder.feed(TaskStarted("t2", "Writer"))

    assert (kind, handoff["to_agent"], handoff["reason"]) == (
        "agent.handoff",
        "Researcher",
        "delegated work",
    )
    assert handoff["context"] == {"step": "plan", "task": "dig", "context": "c"}
    assert failed["error"] == {"type": "ValueError", "message": "bad"} and failed["step"] == "plan"
    assert (later["from_agent"], later["to_agent"]) == ("Crew Manager", "Writer")
    assert builder.feed(TaskStarted("not-a-crew-task", "Writer")) == []


def test_recorded_calls__answer_in_order_per_agent_and_report_divergence() -> None:
    calls = crew_calls(
        [
            (
                "llm.call",
                {"agent": "A", "model": "m", "request": [{"content": "q1"}], "response": "r1"},
            ),
            ("step.completed", {"step": "ignored"}),
            (
                "llm.call",
                {"agent": "B", "model": "m", "request": [{"content": "q2"}], "response": "r2"},
            ),
            ("tool.call", {"agent": "A", "tool": "add", "arguments": {"a": 1}, "result": "1"}),
        ]
    )

    assert calls.take("llm", "m", [{"content": "q2"}], key="B")["response"] == "r2"
    assert calls.take("llm", "m", [{"content": "q1"}], key="A")["response"] == "r1"
    with pytest.raises(Diverged) as caught:
        calls.take("tool", "add", {"a": 2}, key="A")
    assert caught.value.where == "agent 'A': call 2 (tool) differs"
    assert caught.value.expected == {"kind": "tool", "name": "add", "request": {"a": 1}}
    assert caught.value.actual == {"kind": "tool", "name": "add", "request": {"a": 2}}
    with pytest.raises(Diverged, match="the recording has no more calls"):
        calls.take("llm", "m", [], key="B")
    assert calls.answered == 2 and len(calls.remaining()) == 1  # the differing call stays


def test_recorded_calls__unused_calls_are_reported() -> None:
    calls = crew_calls([("tool.call", {"agent": "A", "tool": "t", "arguments": {}, "result": ""})])
    with pytest.raises(Diverged, match=r"1 recorded call\(s\) were not made"):
        calls.check_all_used()
