"""``framework: crewai``: a crew's tasks as the run's steps (needs ``omium[crewai]``).

- :mod:`.run`: the run through the executor (a checkpoint after each task, rollback to
  any task with ``--set`` edits of earlier outputs);
- :mod:`.reexecute`: the crew run again here, every LLM and tool answered from the log.
"""

from pathlib import Path

from omium.adapters.crewai import crew_factory
from omium.processors.frameworks.base import Framework
from omium.processors.frameworks.crewai.reexecute import reexecute
from omium.processors.frameworks.crewai.run import CrewWorkflowRun, split_state
from omium.schemas.workflow import WorkflowSpec


def check(spec: WorkflowSpec, folder: Path, filename: str) -> None:
    """Build the crew's factory: its agents, tasks, tools and LLMs are imported and checked."""
    crew_factory(spec, folder, filename)


FRAMEWORK = Framework("crewai", check, CrewWorkflowRun, reexecute)

__all__ = ["FRAMEWORK", "CrewWorkflowRun", "check", "reexecute", "split_state"]
