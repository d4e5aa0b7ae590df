"""The live output of ``omium run``: one line per step event, under a progress bar on a terminal.

The bar is a rich ``Progress`` (transient: it is gone when the run ends). While it shows,
rich redirects ``sys.stdout`` to keep the bar below what is printed, so every line goes
through the bar's console: a write that bypasses it (``typer.echo`` finds the real stream
under the redirect) lands on the bar's line and leaves the bar there, as in
``s1 ━━━━━ 0/6 0:00:02  ✓ s1  2,001 ms``. Off a terminal there is no bar and lines are
plain ``typer.echo``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from omium.schemas import (
    AgentHandoff,
    Event,
    ExecutionFailed,
    HumanInputReceived,
    HumanInputRequested,
    StepCompleted,
    StepFailed,
    StepRetried,
    StepStarted,
)


class LiveLines:
    """Prints a followed run's events; ``progress`` is the bar (None off a terminal)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.say: Callable[[str], None] = (
            typer.echo
            if progress is None
            else lambda line: progress.console.print(line, markup=False, highlight=False)
        )
        #: the step whose failure was printed last (an execution's failure repeats it)
        self._failed_step: str | None = None

    def event(self, event: Event) -> None:
        """Print the line ``event`` makes, if any, and move the bar."""
        say, progress = self.say, self.progress
        if isinstance(event, StepStarted):
            retry = f" (retry {event.payload.retry})" if event.payload.retry else ""
            if progress is not None:
                progress.update(progress.task_ids[0], description=f"{event.payload.step}{retry}")
        elif isinstance(event, StepCompleted):
            if progress is not None:
                progress.update(progress.task_ids[0], completed=event.payload.index + 1)
            say(f"  ✓ {event.payload.step}  {event.payload.duration_ms:,.0f} ms")
        elif isinstance(event, StepRetried):
            say(
                f"  ↻ {event.payload.step}: {event.payload.error.type}: "
                f"{event.payload.error.message} (again in {event.payload.delay_s:g} s)"
            )
        elif isinstance(event, StepFailed):
            self._failed_step = event.payload.step
            error = event.payload.error
            say(f"  ✗ {event.payload.step}: {error.type}: {error.message}")
        elif isinstance(event, ExecutionFailed):
            # a failure outside a step (a checkpoint too big, a workflow that cannot load)
            # has no step line of its own: say why here
            if event.payload.step is None or event.payload.step != self._failed_step:
                error = event.payload.error
                where = f" after {event.payload.step}" if event.payload.step else ""
                say(f"  ✗ failed{where}: {error.type}: {error.message}")
        elif isinstance(event, HumanInputRequested):
            say(
                f"  ⏸ waiting for input: {event.payload.prompt}\n"
                f"    answer from any terminal: omium resume {event.execution_id} --input '<JSON>'"
            )
        elif isinstance(event, HumanInputReceived):
            say(f"  ▶ input received: {orjson.dumps(event.payload.value).decode()[:200]}")
        elif isinstance(event, AgentHandoff):
            say(f"  ⇄ {event.payload.from_agent} → {event.payload.to_agent}")
        elif event.type in (
            "execution.paused",
            "execution.resumed",
            "execution.cancelled",
            "execution.timed_out",
        ):
            say(f"  · {event.type.removeprefix('execution.')}")


@contextlib.contextmanager
def live_lines(show: bool, steps: int) -> Iterator[LiveLines | None]:
    """Lines for the events (None when not shown), over a bar when stdout is a terminal."""
    if not show:
        yield None
        return
    if not sys.stdout.isatty():  # decided before the bar redirects sys.stdout
        yield LiveLines(None)
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )
    progress.add_task("steps", total=steps or None)  # a graph's steps are not known ahead
    with progress:
        yield LiveLines(progress)
