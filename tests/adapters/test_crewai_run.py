"""CrewRun on real crews, offline: scripted LLMs, real tools, real crewai event bus."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omium.adapters.crewai import (
    CrewRun,
    ScriptedLLM,
    TaskDone,
    crew_calls,
    crew_factory,
)
from omium.adapters.pricing import cost_usd
from omium.producers.recorded import Diverged
from omium.schemas.agents import AgentHandoffPayload, LLMCallPayload, ToolCallPayload
from omium.schemas.errors import CrewTaskFailed
from omium.services.workflows import parse_spec

REMINDER = "You ONLY have access to the following tools"

TOOLS = '''
import threading
from pathlib import Path

HERE = Path(__file__).parent
CALLS = []          # every real tool call, so tests can tell a replayed one from a live one
GATE = {"barrier": None, "hold": None}


def read_notes(name: str) -> str:
    """Read a notes file of the workflow's folder."""
    CALLS.append(("read_notes", name))
    if GATE["barrier"] is not None:
        GATE["barrier"].wait(timeout=10)   # two crews meet here: both are mid-run at once
    if GATE["hold"] is not None:
        GATE["hold"].wait(timeout=10)      # a tool call in flight until the test says so
    return (HERE / name).read_text()


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    CALLS.append(("multiply", a, b))
    return a * b
'''

SEQUENTIAL = """
name: report
framework: crewai
agents:
  - name: researcher
    role: Researcher
    goal: Find facts about {topic}
    backstory: Reads notes carefully.
    tools: [tools:read_notes, tools:multiply]
    llm:
      script:
        - {action: read_notes, input: {name: notes.txt}}
        - {action: multiply, input: {a: 6, b: 7}}
        - {final: "FACTS: the log keeps order per partition; 42 partitions"}
  - name: analyst
    role: Analyst
    goal: Judge the facts
    llm: {script: [{final: "ANALYSIS: ordering is per partition only"}]}
  - name: writer
    role: Writer
    goal: Write the report
    llm: {model: gpt-4o-mini, script: [{final: "REPORT: partitions order events"}]}
tasks:
  - {name: research, description: "Research {topic}", expected_output: facts, agent: researcher}
  - name: analyse
    description: Analyse the facts
    expected_output: an analysis
    agent: analyst
    context: [research]
  - {name: write, description: Write a short report, expected_output: a report, agent: writer}
"""

HIERARCHICAL = """
name: managed
framework: crewai
process: hierarchical
manager_llm:
  script:
    - action: Delegate work to coworker
      input: {task: Read notes.txt, context: the notes file, coworker: Researcher}
    - action: Delegate work to coworker
      input: {task: Write one line, context: "partitions keep order", coworker: Writer}
    - {final: "MANAGED: one line written"}
agents:
  - name: researcher
    role: Researcher
    goal: Find facts
    tools: [tools:read_notes]
    llm:
      script:
        - {action: read_notes, input: {name: notes.txt}}
        - {final: "partitions keep order"}
  - {name: writer, role: Writer, goal: Write, llm: {script: [{final: "one line"}]}}
tasks:
  - {name: manage, description: Produce a one-line summary, expected_output: one line}
"""


FOUR_TOOL_CALLS = """
name: digest
framework: crewai
agents:
  - name: researcher
    role: Researcher
    goal: Collect facts about {topic}
    tools: [tools:read_notes, tools:multiply]
    llm:
      script:
        - {action: read_notes, input: {name: notes.txt}}
        - {action: multiply, input: {a: 6, b: 7}}
        - {action: read_notes, input: {name: more.txt}}
        - {action: multiply, input: {a: 2, b: 3}}
        - {final: "DIGEST: order per partition; 42 partitions, 6 brokers"}
tasks:
  - {name: collect, description: "Collect {topic} facts", expected_output: facts, agent: researcher}
"""


class Recorder:
    """The runner's ``record``: keeps every (type, payload) it is handed, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        self.events.append((kind, payload))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [p for k, p in self.events if k == kind]


class Tracked:
    """Wraps a crew factory and keeps every crew it built (and so their scripted LLMs)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.built: list[dict[str, ScriptedLLM]] = []

    def __call__(self) -> Any:
        crew = self.factory()
        llms = {agent.role: agent.llm for agent in crew.agents}
        if crew.manager_llm is not None:
            llms["manager"] = crew.manager_llm
        self.built.append(llms)  # as built: a re-execution swaps them out of the crew
        return crew

    def llms(self) -> dict[str, ScriptedLLM]:
        return self.built[-1]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "tools.py").write_text(TOOLS)
    (tmp_path / "notes.txt").write_text("NOTES: events keep their order per partition.")
    return tmp_path


def tools_module(folder: Path) -> Any:
    return next(m for m in list(sys.modules.values()) if getattr(m, "HERE", None) == folder)


def factory_of(text: str, folder: Path, **replace: str) -> Tracked:
    for old, new in replace.items():
        text = text.replace(old, new)
    return Tracked(crew_factory(parse_spec(text, "crew.yaml"), folder, "crew.yaml"))


async def drive(run: CrewRun, each: Callable[[TaskDone], Any] | None = None) -> list[TaskDone]:
    done = []
    async for task in run.tasks():
        done.append(task)
        if each is not None:
            await each(task)
    return done


def without_timing(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(k, {f: v for f, v in p.items() if f != "latency_ms"}) for k, p in events]


async def test_sequential_crew__yields_each_task_and_the_final_output(folder: Path) -> None:
    record = Recorder()
    run = CrewRun(factory_of(SEQUENTIAL, folder), {"topic": "Kafka"}, record=record)

    done = await drive(run)

    assert [(d.index, d.name, d.agent) for d in done] == [
        (0, "research", "Researcher"),
        (1, "analyse", "Analyst"),
        (2, "write", "Writer"),
    ]
    assert done[0].output == {"raw": "FACTS: the log keeps order per partition; 42 partitions"}
    assert all(d.duration_ms > 0 for d in done)
    assert run.result["raw"] == "REPORT: partitions order events"
    assert tools_module(folder).CALLS == [("read_notes", "notes.txt"), ("multiply", 6, 7)]


async def test_events__slim_payloads_in_emission_order(folder: Path) -> None:
    record = Recorder()
    await drive(CrewRun(factory_of(SEQUENTIAL, folder), {"topic": "Kafka"}, record=record))

    shape = [(k, p.get("agent") or f"{p['from_agent']}->{p['to_agent']}") for k, p in record.events]
    assert shape == [
        ("llm.call", "Researcher"),
        ("tool.call", "Researcher"),
        ("llm.call", "Researcher"),
        ("tool.call", "Researcher"),
        ("llm.call", "Researcher"),
        ("agent.handoff", "Researcher->Analyst"),
        ("llm.call", "Analyst"),
        ("agent.handoff", "Analyst->Writer"),
        ("llm.call", "Writer"),
    ]
    schemas = {"llm.call": LLMCallPayload, "tool.call": ToolCallPayload}
    for kind, payload in record.events:
        schemas.get(kind, AgentHandoffPayload).model_validate(payload)
    read, multiply = record.of("tool.call")
    assert read["arguments"] == {"name": "notes.txt"}
    assert read["result"] == "NOTES: events keep their order per partition."
    assert multiply["result"] == 42 and multiply["error"] is None  # what the tool returned
    assert read["shown_to_agent"] is None and multiply["shown_to_agent"] is None
    first = record.of("llm.call")[0]
    assert first["step"] == "research" and first["model"] == "scripted"
    assert first["provider"] == "scripted" and first["response"].startswith("Thought:")
    assert "Research Kafka" in str(first["request"])  # the prompt, with the input filled in
    assert record.events[5][1]["context"] == {"task": "analyse", "previous_task": "research"}
    assert len(str(record.events)) < 40_000  # slim: no embedded agents and tasks


async def test_events__of_a_task_are_recorded_before_it_is_yielded(folder: Path) -> None:
    record = Recorder()
    seen: dict[str, int] = {}

    async def count(task: TaskDone) -> None:
        seen[task.name] = sum(1 for _, p in record.events if p.get("step") == task.name)

    await drive(CrewRun(factory_of(SEQUENTIAL, folder), {"topic": "Kafka"}, record=record), count)

    final = {name: sum(1 for _, p in record.events if p.get("step") == name) for name in seen}
    assert seen == final == {"research": 5, "analyse": 1, "write": 1}


async def test_tokens_and_cost__from_the_scripted_usage_and_the_price_table(folder: Path) -> None:
    record = Recorder()
    run = CrewRun(factory_of(SEQUENTIAL, folder), {"topic": "Kafka"}, record=record)
    await drive(run)

    calls = record.of("llm.call")
    assert all(c["input_tokens"] > 0 and c["output_tokens"] > 0 for c in calls)
    scripted, writer = calls[0], calls[-1]
    assert scripted["cost_usd"] == 0.0
    assert writer["model"] == "gpt-4o-mini"
    expected = cost_usd("gpt-4o-mini", writer["input_tokens"], writer["output_tokens"])
    assert writer["cost_usd"] == pytest.approx(expected) and writer["cost_usd"] > 0
    total = sum(c["input_tokens"] + c["output_tokens"] for c in calls)
    assert run.result["token_usage"]["total_tokens"] == total  # type: ignore[index]


def crew_threads_since(before: set[threading.Thread]) -> list[threading.Thread]:
    """The crew threads started since ``before`` (call while they run)."""
    started = [t for t in threading.enumerate() if t not in before and t.name == "omium-crew"]
    assert started, "no crew thread is running"
    return started


async def ended(threads: list[threading.Thread], timeout: float = 30) -> None:
    """Wait until ``threads`` have ended: a barrier, nothing can happen after."""
    for thread in threads:
        await asyncio.to_thread(thread.join, timeout)
        assert not thread.is_alive(), "the crew thread did not stop"


async def test_pause__the_crew_waits_while_the_consumer_holds_a_task(folder: Path) -> None:
    record, tracked = Recorder(), factory_of(SEQUENTIAL, folder)
    during: list[int] = []

    async def hold(task: TaskDone) -> None:
        if task.index == 0:
            await asyncio.sleep(0.3)
            during.append(tracked.llms()["Analyst"].calls)
            during.append(len(record.events))

    await drive(CrewRun(tracked, {"topic": "Kafka"}, record=record), hold)

    assert during == [0, 5]  # no analyst call and no new event while paused
    assert tracked.llms()["Analyst"].calls == 1


async def test_cancel__closing_the_iterator_stops_the_crew_at_the_boundary(folder: Path) -> None:
    record, tracked = Recorder(), factory_of(SEQUENTIAL, folder)
    run = CrewRun(tracked, {"topic": "Kafka"}, record=record)
    before = set(threading.enumerate())

    tasks = run.tasks()
    first = await anext(tasks)
    crew = crew_threads_since(before)  # gated at the task boundary: alive
    await tasks.aclose()
    await ended(crew)

    assert first.index == 0
    llms = tracked.llms()
    assert (llms["Analyst"].calls, llms["Writer"].calls) == (0, 0)
    assert len(record.events) == 5
    with pytest.raises(RuntimeError, match="has not finished"):
        _ = run.result


async def test_cancel__a_tool_in_flight_finishes_then_the_crew_stops(folder: Path) -> None:
    record, tracked = Recorder(), factory_of(SEQUENTIAL, folder)
    hold = threading.Event()
    tools_module(folder).GATE["hold"] = hold
    before = set(threading.enumerate())
    consumer = asyncio.create_task(drive(CrewRun(tracked, {"topic": "Kafka"}, record=record)))
    while not tools_module(folder).CALLS:
        await asyncio.sleep(0.01)
    crew = crew_threads_since(before)  # held in the tool: alive

    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    hold.set()  # the tool call in flight cannot be interrupted: it returns now
    await ended(crew)

    assert tracked.llms()["Researcher"].calls == 1  # stopped before its next model call
    assert tools_module(folder).CALLS == [("read_notes", "notes.txt")]
    # what was recorded before the cancel stays; nothing of the abandoned thread follows
    assert [k for k, _ in record.events] in ([], ["llm.call"])


async def test_resume__task_k_reads_the_prior_outputs_as_context(folder: Path) -> None:
    full = Recorder()
    first = CrewRun(factory_of(SEQUENTIAL, folder), {"topic": "Kafka"}, record=full)
    done = await drive(first)
    record, tracked = Recorder(), factory_of(SEQUENTIAL, folder)

    prior = [d.output for d in done[:2]]
    resumed = CrewRun(tracked, {"topic": "Kafka"}, record=record, start=2, prior=prior)
    again = await drive(resumed)

    assert [d.index for d in again] == [2]
    llms = tracked.llms()
    assert (llms["Researcher"].calls, llms["Analyst"].calls, llms["Writer"].calls) == (0, 0, 1)
    [messages] = llms["Writer"].requests  # what the crew asked the writer's LLM
    prompt = str(messages)
    assert "FACTS: the log keeps order" in prompt and "ANALYSIS: ordering" in prompt
    assert record.of("llm.call")[0]["request"] == messages
    assert without_timing(record.events) == without_timing(full.events[-2:])  # as it was
    assert resumed.result["raw"] == first.result["raw"]


async def test_resume__explicit_context_reads_only_its_tasks(folder: Path) -> None:
    record = Recorder()
    prior = [{"raw": "FACTS: from the log, not from crewai's store"}]
    run = CrewRun(
        factory_of(SEQUENTIAL, folder), {"topic": "Kafka"}, record=record, start=1, prior=prior
    )

    done = await drive(run)

    assert [d.index for d in done] == [1, 2]
    analyst_prompt = str(record.of("llm.call")[0]["request"])
    assert "FACTS: from the log" in analyst_prompt
    handoffs = record.of("agent.handoff")
    assert [(h["from_agent"], h["to_agent"]) for h in handoffs] == [
        ("Researcher", "Analyst"),
        ("Analyst", "Writer"),
    ]


async def test_resume__arguments_are_checked(folder: Path) -> None:
    with pytest.raises(ValueError, match="needs 2 prior outputs"):
        CrewRun(factory_of(SEQUENTIAL, folder), {}, record=Recorder(), start=2, prior=[])
    prior = [{"raw": str(i)} for i in range(4)]
    run = CrewRun(factory_of(SEQUENTIAL, folder), {}, record=Recorder(), start=4, prior=prior)
    with pytest.raises(ValueError, match="the crew has 3"):
        await drive(run)


async def test_concurrent_runs__events_never_land_in_the_other_stream(folder: Path) -> None:
    tools_module_before = factory_of(SEQUENTIAL, folder)  # imports the tools module
    tools_module(folder).GATE["barrier"] = threading.Barrier(2)
    records = [Recorder(), Recorder()]
    factories = [
        tools_module_before,
        factory_of(SEQUENTIAL, folder, Researcher="Scout", FACTS="CLUES", Writer="Scribe"),
    ]
    runs = [
        CrewRun(f, {"topic": topic}, record=r)
        for f, r, topic in zip(factories, records, ["Kafka", "Pulsar"], strict=True)
    ]

    await asyncio.gather(*(drive(run) for run in runs))

    first, second = (str(r.events) for r in records)
    assert "Scout" not in first and "Pulsar" not in first and "CLUES" not in first
    assert "Researcher" not in second and "Kafka" not in second and "FACTS" not in second
    assert [k for k, _ in records[0].events] == [k for k, _ in records[1].events]
    assert len(records[0].events) == 9
    assert runs[1].result["raw"] == "REPORT: partitions order events"


async def test_reexecution__answers_everything_from_the_recording(folder: Path) -> None:
    recorded = Recorder()
    original = CrewRun(factory_of(SEQUENTIAL, folder), {"topic": "Kafka"}, record=recorded)
    await drive(original)
    tool_calls = list(tools_module(folder).CALLS)
    record, tracked = Recorder(), factory_of(SEQUENTIAL, folder)
    replay = crew_calls(recorded.events)

    run = CrewRun(tracked, {"topic": "Kafka"}, record=record, replay=replay)
    done = await drive(run)

    assert all(llm.calls == 0 for llm in tracked.llms().values())  # no live LLM call
    assert tools_module(folder).CALLS == tool_calls  # no live tool call
    assert run.result == original.result
    assert [d.output for d in done][-1] == {"raw": "REPORT: partitions order events"}
    assert without_timing(record.events) == without_timing(recorded.events)
    assert replay.answered == 7 and replay.remaining() == []


async def test_reexecution__a_different_request_is_a_divergence(folder: Path) -> None:
    recorded = Recorder()
    await drive(CrewRun(factory_of(SEQUENTIAL, folder), {"topic": "Kafka"}, record=recorded))
    changed = factory_of(SEQUENTIAL, folder, **{"Analyse the facts": "Doubt the facts"})

    run = CrewRun(
        changed, {"topic": "Kafka"}, record=Recorder(), replay=crew_calls(recorded.events)
    )
    with pytest.raises(Diverged) as caught:
        await drive(run)

    assert caught.value.where == "agent 'Analyst': call 1 (llm) differs"
    assert "Analyse the facts" in str(caught.value.expected)
    assert "Doubt the facts" in str(caught.value.actual)
    assert "\n" not in str(caught.value) and "Doubt" in str(caught.value)


async def test_hierarchical_crew__delegation_is_a_handoff(folder: Path) -> None:
    record = Recorder()
    run = CrewRun(factory_of(HIERARCHICAL, folder), {}, record=record)

    done = await drive(run)

    assert [(d.name, d.agent) for d in done] == [("manage", "Crew Manager")]
    assert run.result["raw"] == "MANAGED: one line written"
    handoffs = record.of("agent.handoff")
    assert [(h["from_agent"], h["to_agent"], h["reason"]) for h in handoffs] == [
        ("Crew Manager", "Researcher", "delegated work"),
        ("Crew Manager", "Writer", "delegated work"),
    ]
    assert handoffs[0]["context"]["task"] == "Read notes.txt"
    delegations = [p for p in record.of("tool.call") if p["tool"] == "delegate_work_to_coworker"]
    assert [p["result"] for p in delegations] == ["partitions keep order", "one line"]
    assert {p["step"] for _, p in record.events if "step" in p} == {"manage"}
    agents = [p["agent"] for p in record.of("llm.call")]
    assert agents == [
        "Crew Manager",
        "Researcher",
        "Researcher",
        "Crew Manager",
        "Writer",
        "Crew Manager",
    ]


async def test_hierarchical_crew__reexecutes_with_zero_live_calls(folder: Path) -> None:
    recorded = Recorder()
    original = CrewRun(factory_of(HIERARCHICAL, folder), {}, record=recorded)
    await drive(original)
    record, tracked = Recorder(), factory_of(HIERARCHICAL, folder)

    run = CrewRun(tracked, {}, record=record, replay=crew_calls(recorded.events))
    await drive(run)

    assert all(llm.calls == 0 for llm in tracked.llms().values())
    assert run.result == original.result
    assert without_timing(record.events) == without_timing(recorded.events)


async def test_script_exhausted__the_task_fails_with_a_one_line_reason(folder: Path) -> None:
    record = Recorder()
    short = factory_of(
        SEQUENTIAL, folder, **{'[{final: "ANALYSIS: ordering is per partition only"}]': "[]"}
    )
    run = CrewRun(short, {"topic": "Kafka"}, record=record)

    with pytest.raises(CrewTaskFailed) as caught:
        await drive(run)

    assert caught.value.index == 1 and caught.value.name == "analyse"
    assert str(caught.value) == (
        "task 'analyse' failed: ScriptExhausted: the scripted LLM of 'analyst' has no answers "
        "(give llm.script or llm.fixture)"
    )
    failed = record.of("llm.call")[-1]
    assert failed["agent"] == "Analyst" and failed["error"]["type"] == "ScriptExhausted"


async def test_tasks__can_be_iterated_once(folder: Path) -> None:
    run = CrewRun(factory_of(SEQUENTIAL, folder), {"topic": "Kafka"}, record=Recorder())
    await drive(run)
    with pytest.raises(RuntimeError, match="runs once"):
        await drive(run)


async def test_tool_calls__record_the_tools_own_output_and_reexecute_exactly(
    folder: Path,
) -> None:
    (folder / "more.txt").write_text("MORE: six brokers serve the cluster.")
    recorded, tracked = Recorder(), factory_of(FOUR_TOOL_CALLS, folder)
    original = CrewRun(tracked, {"topic": "Kafka"}, record=recorded)
    await drive(original)
    live = [("read_notes", "notes.txt"), ("multiply", 6, 7), ("read_notes", "more.txt")]
    assert tools_module(folder).CALLS == [*live, ("multiply", 2, 3)]

    calls = recorded.of("tool.call")
    notes, more = (folder / "notes.txt").read_text(), (folder / "more.txt").read_text()
    assert [c["result"] for c in calls] == [notes, 42, more, 6]  # the tools' own outputs
    # crewai appends its tool-format reminder to every 3rd tool result of a task: what the
    # agent was shown is kept apart, and only then
    shown = [c["shown_to_agent"] for c in calls]
    assert shown[0] is None and shown[1] is None and shown[3] is None
    assert shown[2].startswith(more + "\n") and REMINDER in shown[2]
    after_third = "\n".join(m["content"] for m in recorded.of("llm.call")[3]["request"])
    assert shown[2] in after_third  # what the agent was shown, in its next prompt
    for payload in calls:
        ToolCallPayload.model_validate(payload)

    # re-execution from the log (payloads as stored: through the schema, as JSON)
    schemas = {"llm.call": LLMCallPayload, "tool.call": ToolCallPayload}
    logged = [(k, schemas[k].model_validate(p).model_dump(mode="json")) for k, p in recorded.events]
    record, again = Recorder(), factory_of(FOUR_TOOL_CALLS, folder)
    replay = crew_calls(logged)
    run = CrewRun(again, {"topic": "Kafka"}, record=record, replay=replay)
    done = await drive(run)

    assert all(llm.calls == 0 for llm in again.llms().values())  # no live LLM call
    assert tools_module(folder).CALLS == [*live, ("multiply", 2, 3)]  # no live tool call
    assert replay.answered == 9 and replay.remaining() == []
    assert done[0].output == {"raw": "DIGEST: order per partition; 42 partitions, 6 brokers"}
    assert run.result == original.result
    assert without_timing(record.events) == without_timing(recorded.events)


async def test_reexecution__of_a_recording_that_kept_only_the_text_the_agent_saw(
    folder: Path,
) -> None:
    """Recordings made before ``shown_to_agent`` have that text as ``result``; still exact."""
    (folder / "more.txt").write_text("MORE: six brokers serve the cluster.")
    recorded = Recorder()
    await drive(CrewRun(factory_of(FOUR_TOOL_CALLS, folder), {"topic": "Kafka"}, record=recorded))
    older = [
        (k, {**p, "result": p["shown_to_agent"] or str(p["result"])} if k == "tool.call" else p)
        for k, p in recorded.events
    ]
    older = [(k, {f: v for f, v in p.items() if f != "shown_to_agent"}) for k, p in older]

    record, replay = Recorder(), crew_calls(older)
    run = CrewRun(
        factory_of(FOUR_TOOL_CALLS, folder), {"topic": "Kafka"}, record=record, replay=replay
    )
    await drive(run)

    assert replay.answered == 9 and replay.remaining() == []
    requests = [p["request"] for p in recorded.of("llm.call")]
    assert [p["request"] for p in record.of("llm.call")] == requests  # the agent saw the same


SLOW_TOOLS = '''
import threading
import time
from pathlib import Path

HERE = Path(__file__).parent
BUSY = threading.Event()


def read_notes(name: str) -> str:
    """Read a notes file of the workflow's folder (slowly)."""
    BUSY.set()
    time.sleep(0.5)
    return (HERE / name).read_text()


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b
'''

ABANDON_AND_EXIT = """
import asyncio, sys, threading, time
from pathlib import Path

from omium.adapters.crewai import CrewRun, ScriptedLLM, crew_factory
from omium.services.workflows import parse_spec

FOLDER = Path(sys.argv[1])
busy = threading.Event()
if sys.argv[2] == "llm":   # the second model call is in flight when the run is abandoned
    answer = ScriptedLLM.call
    def slow(self, *args, **kwargs):
        if self.calls:
            busy.set()
            time.sleep(0.5)
        return answer(self, *args, **kwargs)
    ScriptedLLM.call = slow

async def ignore(kind, payload):
    pass

async def main():
    spec = parse_spec((FOLDER / "crew.yaml").read_text(), "crew.yaml")
    run = CrewRun(crew_factory(spec, FOLDER, "crew.yaml"), {"topic": "Kafka"}, record=ignore)

    async def drive():
        async for _ in run.tasks():
            pass

    consumer = asyncio.create_task(drive())
    flag = busy
    if sys.argv[2] == "tool":   # the first tool call is in flight when the run is abandoned
        while not (tools := [m for m in list(sys.modules.values()) if hasattr(m, "BUSY")]):
            await asyncio.sleep(0.01)
        flag = tools[0].BUSY
    while not flag.is_set():
        await asyncio.sleep(0.01)
    consumer.cancel()
    try:
        await consumer
    except asyncio.CancelledError:
        pass
    print("abandoned; exiting", flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("in_flight", ["tool", "llm"])
def test_cancel__an_abandoned_crew_is_quiet_when_the_process_exits(
    folder: Path, in_flight: str
) -> None:
    """The process exits while the abandoned crew's call is in flight: when it returns,
    crewai cannot schedule anything any more, and must not print tracebacks about it."""
    (folder / "tools.py").write_text(SLOW_TOOLS)
    (folder / "crew.yaml").write_text(SEQUENTIAL)
    (folder / "main.py").write_text(ABANDON_AND_EXIT)

    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(folder / "main.py"), str(folder), in_flight],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("abandoned; exiting")
    assert "Traceback" not in done.stderr and "cannot schedule" not in done.stderr, done.stderr
