"""examples/research_crew.yaml end to end: scripted LLMs, real tools on the real notes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from omium.adapters.crewai import CrewRun, ScriptedLLM, TaskDone, crew_factory
from omium.adapters.python import import_attr
from omium.schemas.agents import AgentHandoffPayload, LLMCallPayload, ToolCallPayload
from omium.services.workflows import load_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORKFLOW = EXAMPLES / "research_crew.yaml"
NOTES = EXAMPLES / "data" / "notes"
NAMES = ["checkpoints.md", "event-log.md", "replay.md"]


class Recorder:
    """The runner's ``record``: keeps every (type, payload) it is handed, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        self.events.append((kind, payload))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [p for k, p in self.events if k == kind]


async def run_example(
    inputs: dict[str, Any] | None = None,
) -> tuple[CrewRun, list[TaskDone], Recorder, float]:
    spec = load_workflow(WORKFLOW)
    record = Recorder()
    run = CrewRun(
        crew_factory(spec, WORKFLOW.parent, WORKFLOW.name),
        {**spec.inputs, **(inputs or {})},
        record=record,
    )
    began = time.perf_counter()
    done = [task async for task in run.tasks()]
    return run, done, record, time.perf_counter() - began


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from another directory: the example must not depend on the current one."""
    monkeypatch.chdir(tmp_path)


async def test_three_tasks__one_per_agent_in_order() -> None:
    run, done, _, seconds = await run_example()

    assert [(d.index, d.name, d.agent) for d in done] == [
        (0, "research", "Researcher"),
        (1, "analyse", "Analyst"),
        (2, "write", "Writer"),
    ]
    assert run.result["raw"] == done[2].output["raw"]
    assert str(run.result["raw"]).startswith("# Brief: durable agent runs")
    assert seconds < 5  # offline and scripted: about 0.2 s here
    assert run.crew is not None
    for agent in run.crew.agents:  # each script matches the calls its task needs, exactly
        assert isinstance(agent.llm, ScriptedLLM)
        assert agent.llm.calls == len(agent.llm.answers), agent.role


async def test_tools__really_read_and_measure_the_notes() -> None:
    _, _, record, _ = await run_example()

    calls = record.of("tool.call")
    assert [(c["agent"], c["tool"]) for c in calls] == [
        ("Researcher", "list_notes"),
        ("Researcher", "read_note"),
        ("Researcher", "read_note"),
        ("Researcher", "read_note"),
        ("Analyst", "note_stats"),
    ]
    assert all(c["error"] is None for c in calls)
    listing, *reads, stats = calls
    assert [line.split(":")[0] for line in listing["result"].splitlines()] == NAMES
    for call, name in zip(reads, NAMES, strict=True):
        assert call["arguments"] == {"name": name}
        assert call["result"] == (NOTES / name).read_text()  # the tool's own output
    # crewai appended its tool-format reminder to the task's 3rd tool result: the agent saw
    # that text, kept apart for re-execution
    assert [c["shown_to_agent"] is None for c in calls] == [True, True, False, True, True]
    shown = reads[1]["shown_to_agent"]
    assert shown.startswith(reads[1]["result"] + "\n")
    assert "You ONLY have access to the following tools" in shown

    measured = json.loads(stats["result"])
    words = {name: note["words"] for name, note in measured["notes"].items()}
    assert words == {"checkpoints.md": 80, "event-log.md": 76, "replay.md": 73}
    assert measured["total_words"] == sum(words.values())
    lines = [line for name in NAMES for line in (NOTES / name).read_text().lower().splitlines()]
    body = " ".join(line for line in lines if not line.startswith("#"))  # titles don't count
    checkpoint = sum(word.startswith("checkpoint") for word in body.split())
    assert measured["terms"]["checkpoint"]["total"] == checkpoint
    note_stats = import_attr("research_tools:note_stats", EXAMPLES, "test")
    assert stats["result"] == note_stats(**stats["arguments"])  # deterministic


async def test_brief__quotes_the_numbers_the_analyst_computed() -> None:
    _, done, record, _ = await run_example()

    measured = json.loads(record.of("tool.call")[-1]["result"])
    analysis, brief = str(done[1].output["raw"]), str(done[2].output["raw"])
    total, minutes = measured["total_words"], measured["reading_minutes"]
    checkpoint, event = measured["terms"]["checkpoint"], measured["terms"]["event"]
    for text in (analysis, brief):
        assert f"{total} words" in text and f"about {minutes} minutes" in text
    assert f"checkpoint {checkpoint['total']} (in {checkpoint['notes']} notes)" in analysis
    assert f"({checkpoint['total']} mentions in {checkpoint['notes']} notes)" in brief
    assert f"({event['total']} mentions of events)" in brief
    assert f"({measured['notes']['replay.md']['words']};" in brief
    sentences = sum(note["sentences"] for note in measured["notes"].values())
    bullets = sum(note["bullets"] for note in measured["notes"].values())
    assert f"{sentences} sentences and {bullets} bullet points" in analysis
    assert all(name in brief for name in NAMES)


async def test_events__handoffs_between_agents_and_inputs_in_the_prompts() -> None:
    _, _, record, _ = await run_example({"audience": "the on-call team"})

    shape = [(k, p.get("agent") or f"{p['from_agent']}->{p['to_agent']}") for k, p in record.events]
    assert shape == [
        *[("llm.call", "Researcher"), ("tool.call", "Researcher")] * 4,
        ("llm.call", "Researcher"),
        ("agent.handoff", "Researcher->Analyst"),
        ("llm.call", "Analyst"),
        ("tool.call", "Analyst"),
        ("llm.call", "Analyst"),
        ("agent.handoff", "Analyst->Writer"),
        ("llm.call", "Writer"),
    ]
    schemas = {"llm.call": LLMCallPayload, "tool.call": ToolCallPayload}
    for kind, payload in record.events:
        schemas.get(kind, AgentHandoffPayload).model_validate(payload)
    handoffs = record.of("agent.handoff")
    assert [h["context"] for h in handoffs] == [
        {"task": "analyse", "previous_task": "research"},
        {"task": "write", "previous_task": "analyse"},
    ]
    writer = str(record.of("llm.call")[-1]["request"])
    assert "for the on-call team" in writer  # {audience} filled from the inputs
    assert "229 words in all" in writer  # the analysis reaches the writer as context


def test_read_note__only_reads_the_notes() -> None:
    read_note = import_attr("research_tools:read_note", EXAMPLES, "test")
    with pytest.raises(ValueError, match="no note named"):
        read_note("../invoices.json")
