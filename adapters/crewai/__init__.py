"""CrewAI crews run by omium: built from a spec, observed, paused, resumed and re-executed.

Importing this package first sets crewai's offline defaults (telemetry and tracing off,
no first-run prompt, an absolute ``CREWAI_STORAGE_DIR``; see
:mod:`omium.adapters.crewai._env`), so import it before anything imports crewai.

Offers:

- :func:`crew_factory` (spec -> a function building fresh crews) and :func:`make_llm`
  (a spec's ``llm`` -> one LLM), with :class:`ScriptedLLM` for offline runs;
- :func:`crewai_factory`: the same, but ``crew:`` may name a CrewAI Flow;
  :class:`FlowRun` with :class:`MethodStarted` / :class:`MethodDone`: a Flow run method by
  method (pausing between methods, resuming after method *k*, re-executing);
- :class:`CrewRun` and :class:`TaskDone`: a crew run task by task, its ``llm.call``,
  ``tool.call`` and ``agent.handoff`` payloads handed to ``record`` in order, pausing
  between tasks, stopping when the consumer stops, resuming from task *k*;
- :func:`crew_calls` and :class:`ReplayLLM`: re-execution with every LLM and tool answered
  from a recording (:class:`~omium.producers.recorded.Diverged` when the crew asks
  something else);
- :class:`OmiumListener`: the one listener on crewai's event bus, scoping events per run.

Imports crewai, :mod:`omium.schemas` and :mod:`omium.adapters` helpers; no runtime.
"""

from omium.adapters.crewai import _env  # noqa: F401 - sets the environment before crewai loads
from omium.adapters.crewai.build import CrewFactory, crew_factory, crewai_factory
from omium.adapters.crewai.flow_run import FlowRun, MethodDone, MethodStarted
from omium.adapters.crewai.listener import OmiumListener, ensure_listener
from omium.adapters.crewai.llm import ScriptedLLM, make_llm, render_answer
from omium.adapters.crewai.replay import ReplayLLM, crew_calls
from omium.adapters.crewai.run import CrewRun, TaskDone

__all__ = [
    "CrewFactory",
    "CrewRun",
    "FlowRun",
    "MethodDone",
    "MethodStarted",
    "OmiumListener",
    "ReplayLLM",
    "ScriptedLLM",
    "TaskDone",
    "crew_calls",
    "crew_factory",
    "crewai_factory",
    "ensure_listener",
    "make_llm",
    "render_answer",
]
