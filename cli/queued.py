"""Saying so when a command waits for a worker that is not there (the embedded log).

A command (``run --detach``, ``rollback``, ``pause``/``resume``/``cancel``) is appended to
``omium.commands`` and acted on by whichever worker owns the execution. On the embedded
log omium can tell whether any worker is alive; when none is, the request waits, and the
user is told in one line on stderr what makes it go on. On Kafka nothing is said.
"""

from __future__ import annotations

import typer


def say_queued(execution_id: str, what: str) -> None:
    """Tell the user ``what`` (e.g. ``"the run"``) of ``execution_id`` waits for a worker."""
    typer.echo(
        f"omium: {what} of {execution_id} is queued until `omium worker` runs "
        f"(or an `omium run` hosts one)",
        err=True,
    )
