"""What :class:`~omium.adapters.crewai.run.CrewRun` changes on a fresh crew before kickoff.

**Resume from task k** (``start=k``, ``prior`` = the recorded outputs of tasks ``0..k-1``)
uses crewai internals (1.15), read from ``crewai/crew.py`` and ``crewai/crews/utils.py``:
``Crew._execute_tasks`` starts at ``_get_execution_start_index()``, the first task whose
``output`` is None, when ``checkpoint_kickoff_event_id`` is set; tasks before it are
skipped by ``prepare_task_execution`` and their ``task.output`` appended to the outputs,
so ``Crew._get_context`` gives later tasks the same context (all earlier outputs, or
those of their explicit ``context`` tasks) as if they had run. The outputs are rebuilt
from ``prior``, never from crewai's kickoff SQLite store or ``CheckpointConfig``. With
``_kickoff_event_id`` unset, ``prepare_kickoff`` still emits ``crew_kickoff_started``.
The crew's ``_task_output_handler`` (that shared SQLite store) is replaced by a no-op:
concurrent crews would overwrite each other there and omium does not read it.

Re-execution replaces every agent's LLM with a
:class:`~omium.adapters.crewai.replay.ReplayLLM` (:func:`install_replay`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crewai import Agent, Crew, Task
from crewai.llms.base_llm import BaseLLM
from crewai.tasks.output_format import OutputFormat
from crewai.tasks.task_output import TaskOutput
from crewai.utilities.llm_utils import create_llm
from crewai.utilities.task_output_storage_handler import TaskOutputStorageHandler
from pydantic import JsonValue

from omium.adapters.crewai.payloads import jsonable
from omium.adapters.crewai.replay import ReplayLLM
from omium.producers.recorded import RecordedCalls


def prepare_crew(
    crew: Crew, start: int, prior: Sequence[Mapping[str, Any]], replay: RecordedCalls | None
) -> list[str]:
    """Ready ``crew`` to run from task ``start``; return its tasks' step names.

    Raises:
        ValueError: ``start`` is past the crew's tasks, or a prior output has no ``raw``.
    """
    tasks = crew.tasks
    if start > len(tasks):
        raise ValueError(f"cannot resume at task {start}: the crew has {len(tasks)}")
    crew.stream = False  # CrewRun reports task by task itself
    crew._task_output_handler = NoTaskOutputs()
    for index in range(start):
        tasks[index].output = rebuilt_output(tasks[index], index, prior[index])
    if start:
        crew.checkpoint_kickoff_event_id = f"omium-resume-{start}"
    if replay is not None:
        install_replay(crew, replay)
    return [step_name(task, index) for index, task in enumerate(tasks)]


def step_name(task: Task, index: int) -> str:
    """The name a task's events and checkpoints carry."""
    return task.name or f"task_{index}"


def output_of(output: TaskOutput) -> dict[str, JsonValue]:
    """A task output as JSON: ``raw``, and ``json`` / ``pydantic`` when present."""
    data: dict[str, JsonValue] = {"raw": output.raw}
    if output.json_dict:
        data["json"] = jsonable(output.json_dict)
    if output.pydantic is not None:
        data["pydantic"] = output.pydantic.model_dump(mode="json")
    return data


def rebuilt_output(task: Task, index: int, recorded: Mapping[str, Any]) -> TaskOutput:
    """``task``'s output as recorded (see :func:`output_of`), for resuming after it."""
    if not isinstance(recorded.get("raw"), str):
        raise ValueError(f"prior[{index}] has no 'raw' text output")
    model = task.output_pydantic
    pydantic = (
        model.model_validate(recorded["pydantic"]) if model and "pydantic" in recorded else None
    )
    output_format = (
        OutputFormat.PYDANTIC
        if model
        else OutputFormat.JSON
        if task.output_json
        else OutputFormat.RAW
    )
    return TaskOutput(
        name=step_name(task, index),
        description=task.description,
        expected_output=task.expected_output,
        raw=recorded["raw"],
        json_dict=recorded.get("json"),
        pydantic=pydantic,
        agent=task.agent.role if task.agent else "",
        output_format=output_format,
    )


class NoTaskOutputs(TaskOutputStorageHandler):
    """Stands in for crewai's kickoff task-output store (one SQLite file per process).

    crewai writes every task's output there for its own ``crew.replay``; concurrent crews
    overwrite each other in it, and omium resumes from its log instead.
    """

    def __init__(self) -> None:
        """Open nothing (the base class opens the SQLite store)."""

    def update(self, task_index: int, log: dict[str, Any]) -> None:
        """Keep nothing."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        """Keep nothing."""

    def reset(self) -> None:
        """Nothing to clear."""

    def load(self) -> list[dict[str, Any]] | None:
        """Nothing was kept."""
        return None


def install_replay(crew: Crew, recorded: RecordedCalls) -> None:
    """Give every agent of ``crew`` (and its manager) a :class:`ReplayLLM`.

    Each stands in for the LLM the agent had, so the prompts crewai builds are unchanged
    and the original LLM is never called.
    """
    agents = {id(a): a for a in [*crew.agents, *(t.agent for t in crew.tasks), crew.manager_agent]}
    for agent in agents.values():
        if agent is None:
            continue
        if isinstance(agent.llm, BaseLLM):
            agent.llm = ReplayLLM.standing_in_for(agent.llm, recorded)
        helper = vars(agent).get("function_calling_llm")  # getattr warns: it is deprecated
        if isinstance(agent, Agent) and isinstance(helper, BaseLLM):
            agent.function_calling_llm = ReplayLLM.standing_in_for(helper, recorded)
    if crew.manager_agent is None and crew.manager_llm is not None:
        manager = crew.manager_llm
        llm = manager if isinstance(manager, BaseLLM) else create_llm(manager)
        if isinstance(llm, BaseLLM):
            crew.manager_llm = ReplayLLM.standing_in_for(llm, recorded)
