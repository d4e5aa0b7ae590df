"""``framework: langgraph``: a graph's supersteps as the run's steps (needs ``omium[langgraph]``).

- :mod:`.run`: the run through the executor (checkpoints via ``OmiumSaver``, ``interrupt()``
  answered by ``omium resume --input``, rollback as a fork);
- :mod:`.reexecute`: the graph run again here, its calls and answers from the log.
"""

from pathlib import Path

from omium.adapters.langgraph.runner import refuse_functional
from omium.adapters.python import import_attr
from omium.processors.frameworks.base import Framework
from omium.processors.frameworks.langgraph.reexecute import reexecute
from omium.processors.frameworks.langgraph.run import GraphWorkflowRun
from omium.schemas.workflow import WorkflowSpec


def check(spec: WorkflowSpec, folder: Path, filename: str) -> None:
    """Import the graph the spec names (it is compiled where it runs).

    A functional-API ``@entrypoint`` is refused here; a factory returning one is refused
    where it is called, by the worker.
    """
    assert spec.graph is not None
    where = f"{filename}: graph"
    refuse_functional(import_attr(spec.graph, folder, where), where, spec.graph)


FRAMEWORK = Framework("langgraph", check, GraphWorkflowRun, reexecute)

__all__ = ["FRAMEWORK", "GraphWorkflowRun", "check", "reexecute"]
