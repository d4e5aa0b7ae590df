"""Hooks on crewai code omium does not drive task by task: a Flow's methods, a python step.

A Flow method or a python step builds its own crews (``Crew(...).kickoff()``,
``kickoff_for_each``), so omium cannot swap their LLMs before they start as
:class:`~omium.adapters.crewai.run.CrewRun` does. :class:`CallHooks` uses crewai's
execution-scoped interception points instead (``crewai.hooks.dispatch.scoped_hooks``;
they fire only in the context that entered them and the threads crewai starts from it):

- ``pre/post_tool_call``: time each tool call and report it on the bus
  (:class:`~omium.adapters.crewai.listener.OmiumToolCallEvent`), as a crew run does;
- with a recording (``replay``): ``execution_start`` gives every crew that kicks off an
  LLM answering from it (:func:`~omium.adapters.crewai.prepare.install_replay`), and each
  tool call is checked against the recording and answered with the text the agent saw
  (returning False from ``pre_tool_call`` keeps crewai from running the tool);
- ``before`` runs before each model and tool call and each crew's kickoff (a run takes
  what it has recorded so far: crewai restarts its ``emission_sequence`` at each top-level
  kickoff, so events are ordered batch by batch), ``check`` before and after the calls
  (a run abandoned by its consumer raises there).

What a crew calls outside a crew (``Agent.kickoff()`` alone, an ``LLM.call`` in the
method's own code) is recorded, but not answered from the recording.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from crewai import Crew
from crewai.hooks.dispatch import InterceptionPoint

from omium.adapters.crewai.listener import recorded_tool_answer, report_tool_result
from omium.adapters.crewai.prepare import install_replay
from omium.producers.recorded import RecordedCalls

Hooks = dict[InterceptionPoint, list[Callable[[Any], Any]]]


def _nothing() -> None:
    return None


class CallHooks:
    """The model and tool hooks of one run (see the module docs).

    Args:
        replay: answer every crew's LLM and every tool call from this recording.
        before: called before each model and tool call and each crew's kickoff.
        check: called before and after each model and tool call (may raise to stop).
    """

    def __init__(
        self,
        replay: RecordedCalls | None = None,
        *,
        before: Callable[[], None] = _nothing,
        check: Callable[[], None] = _nothing,
    ) -> None:
        self.replay, self._before, self._check = replay, before, check
        #: whether crewai called a model or a tool since these hooks were entered
        self.called = False
        self._tools: dict[int, tuple[float, Mapping[str, Any] | None]] = {}

    def hooks(self) -> Hooks:
        """The hooks to enter with ``scoped_hooks``."""
        return {
            InterceptionPoint.EXECUTION_START: [self._execution_start],
            InterceptionPoint.PRE_MODEL_CALL: [self._pre_model_call],
            InterceptionPoint.POST_MODEL_CALL: [self._post_model_call],
            InterceptionPoint.PRE_TOOL_CALL: [self._pre_tool_call],
            InterceptionPoint.POST_TOOL_CALL: [self._post_tool_call],
        }

    def _execution_start(self, ctx: Any) -> None:
        crew = getattr(ctx, "crew", None)
        if not isinstance(crew, Crew):
            return  # a flow starting
        self._before()
        if self.replay is not None:
            install_replay(crew, self.replay)

    def _pre_model_call(self, ctx: Any) -> None:
        self.called = True
        self._check()
        self._before()

    def _post_model_call(self, ctx: Any) -> None:
        self._check()

    def _pre_tool_call(self, ctx: Any) -> bool | None:
        self.called = True
        self._check()
        self._before()
        recorded = recorded_tool_answer(self.replay, ctx)
        self._tools[id(ctx.tool_input)] = (time.perf_counter(), recorded)
        return False if recorded is not None else None  # False: crewai skips the tool

    def _post_tool_call(self, ctx: Any) -> str | None:
        began, recorded = self._tools.pop(id(ctx.tool_input), (time.perf_counter(), None))
        self._check()
        return report_tool_result(self, ctx, began, recorded)
