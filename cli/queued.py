"""Saying so when a command waits for a worker that is not there (the embedded log).

A command (``run --detach``, ``rollback``, ``pause``/``resume``/``cancel``) is appended to
``omium.commands`` and acted on by whichever worker owns the execution. On the embedded
log the CLI can tell whether any worker is alive (``LiveMembers``); when none is, the
request waits, and the user is told in one line on stderr what makes it go on. On Kafka
workers run elsewhere and the log cannot tell: nothing is said.
"""

from __future__ import annotations

import typer

from omium.processors import service
from omium.producers import EventLog


async def say_if_queued(log: EventLog, execution_id: str, what: str) -> bool:
    """Tell the user when no worker serves ``log``; returns whether it said so.

    ``what`` names the request, e.g. ``"the run"`` or ``"the cancel"``.
    """
    if await service.live_workers(log) != 0:
        return False
    typer.echo(
        f"omium: {what} of {execution_id} is queued until `omium worker` runs "
        f"(or an `omium run` hosts one)",
        err=True,
    )
    return True
