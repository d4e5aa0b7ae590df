"""Every error omium raises on purpose, in one tree.

::

    OmiumError                  one-line message + .hint (the fix); .retriable; .exit_code
    ├── InvalidEvent            an event or record fails validation (names the field)
    │   └── EventTooLarge       encoded size over the limit (names the largest field)
    │       └── CheckpointTooLarge  a LangGraph checkpoint or writes over it (names channels)
    ├── ConfigError             a setting, URL, flag or file is wrong (names the variable)
    │   ├── InvalidSpec         a workflow file is not a valid spec (file and field path)
    │   ├── Conflict            valid, but the execution's state refuses it (pause a finished run)
    │   └── VersionMismatch     a worker's files are not the workflow version a run asks for
    ├── NotFound                no execution with that id (or not started yet)
    │   └── NoSuchPoint         the replay point (seq, offset, checkpoint, time…) is not there
    ├── LogError                the event log failed
    │   ├── LogUnavailable      cannot open / reach the log in time (retriable)
    │   ├── TopicNotFound       the topic does not exist (run `omium topics create`); exit 2
    │   └── NoViews             no projection processor ever ran on the cluster
    ├── SyncCallOnLogLoop       a blocking call made on the loop that runs the log it needs
    └── StepError               a step failed in a way omium names (recorded, not raised to you)
        ├── StepTimeout         ran past its timeout (a sync step's thread may still run)
        ├── StepAborted         raised SystemExit or KeyboardInterrupt
        ├── StepOutputError     returned something other than a dict of JSON values
        ├── CrewTaskFailed      a crew's task raised (``__cause__`` is what it raised)
        └── RecordedLLMError    a recorded LLM call failed; re-execution fails the same way

Beside the tree, two ``BaseException`` signals that code under omium must not catch (a
step's ``except Exception``, an agent's retry loop): ``Diverged`` (re-executed code asked for
something the recording does not have) and ``ScriptExhausted`` (a scripted model ran out of
answers), both in :mod:`omium.producers.recorded`.

The CLI prints ``str(error)`` on one line (never a traceback) and exits with the class's
``exit_code``; the gateway maps the class to problem+json. Other exceptions are bugs.

=====  =====================================================================================
exit   meaning
=====  =====================================================================================
0      the command did what was asked (``omium run``: the execution completed)
1      it did not: a run failed, was cancelled or timed out; ``replay --verify`` found a
       difference; the log failed (``LogError`` and below, but ``TopicNotFound``); any
       ``OmiumError`` not below
2      bad input: you asked for something that is invalid (``ConfigError``, ``InvalidEvent``
       and below, a usage error) or does not exist (``NotFound`` and below,
       ``TopicNotFound``)
130    interrupted (Ctrl-C)
=====  =====================================================================================
"""

from __future__ import annotations

from typing import ClassVar

#: exit codes (see the table above)
EXIT_FAILED, EXIT_USAGE = 1, 2


class OmiumError(Exception):
    """Base of every deliberate omium error.

    Attributes:
        hint: what the user can do about it, appended to the message.
        retriable: whether trying the same thing again later may succeed.
        exit_code: what the CLI exits with when this error ends a command.
    """

    retriable: ClassVar[bool] = False
    exit_code: ClassVar[int] = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}; {hint}" if hint else message)


class InvalidEvent(OmiumError, ValueError):
    """An event (or a raw record) does not match the schema of its type."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        self.field = field
        super().__init__(message, hint=hint)


class EventTooLarge(InvalidEvent):
    """An encoded event is larger than the configured limit."""

    def __init__(
        self,
        message: str,
        *,
        size: int,
        limit: int,
        field: str | None = None,
        hint: str | None = None,
    ):
        self.size = size
        self.limit = limit
        super().__init__(
            message,
            field=field,
            hint=hint
            or "store big values elsewhere and record a reference, or raise OMIUM_MAX_EVENT_BYTES",
        )


class CheckpointTooLarge(EventTooLarge):
    """A LangGraph checkpoint or a task's writes do not fit in one event of the log.

    Attributes:
        thread_id: the LangGraph thread (omium execution).
        largest: ``(channel, bytes)`` of the biggest contributor, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        size: int,
        limit: int,
        thread_id: str,
        largest: tuple[str, int] | None,
        hint: str | None = None,
    ) -> None:
        self.thread_id = thread_id
        self.largest = largest
        field = f"channel {largest[0]}" if largest else None
        super().__init__(message, size=size, limit=limit, field=field, hint=hint)


class ConfigError(OmiumError):
    """A setting, URL, flag or file given to omium is wrong."""

    exit_code = EXIT_USAGE


class InvalidSpec(ConfigError):
    """A workflow file is not a valid spec (names the file and the field path)."""


class Conflict(ConfigError):
    """The request is well formed, but the execution's state refuses it.

    E.g. pausing a run that finished, resuming one that is not paused: the gateway answers
    409, the CLI exits 2 like any bad input.
    """


class VersionMismatch(ConfigError):
    """The workflow files a worker has are not the version a run was submitted with.

    Recorded as the run's failure (the worker never runs another version silently).
    """


class NotFound(OmiumError):
    """No execution has that id in this log (or it has not started yet)."""

    exit_code = EXIT_USAGE


class NoSuchPoint(NotFound):
    """The replay target is not in the execution's events."""


class LogError(OmiumError):
    """The event log could not do what was asked."""

    exit_code = EXIT_FAILED


class LogUnavailable(LogError):
    """The log cannot be opened or reached within the timeout."""

    retriable = True


class TopicNotFound(LogError):
    """A topic the caller named does not exist on the log (exit 2: it was asked for)."""

    exit_code = EXIT_USAGE


class NoViews(LogError):
    """The cluster has no projections yet: no processor ever ran on it."""


class SyncCallOnLogLoop(OmiumError, RuntimeError):
    """A blocking call was made on the event loop that runs the log it waits for.

    Waiting there would block the loop the answer has to come from; the message names the
    async call to use instead.
    """


class StepError(OmiumError):
    """A workflow step failed in a way omium names; recorded in ``step.failed``."""


class StepTimeout(StepError):
    """A step ran past its timeout.

    Attributes:
        thread: a sync step's ``threading.Thread``, which cannot be stopped and may still
            be running (None for an async step, which was cancelled).
    """

    def __init__(self, step: str, seconds: float, thread: object | None = None) -> None:
        super().__init__(f"step {step!r} ran past its {seconds:g} s timeout")
        self.thread = thread


class StepAborted(StepError):
    """A step raised ``SystemExit`` or ``KeyboardInterrupt``; it fails like any error."""


class StepOutputError(StepError, TypeError):
    """A step returned something other than a dict of JSON values (or None)."""


class CrewTaskFailed(StepError):
    """A task of a crew raised; ``__cause__`` is what it raised.

    Attributes:
        index: the task's position; name: its step name; cause: the exception.
    """

    def __init__(self, index: int, name: str, cause: BaseException) -> None:
        first = str(cause).splitlines()[0] if str(cause) else ""
        super().__init__(f"task {name!r} failed: {type(cause).__name__}: {first}")
        self.index, self.name, self.cause = index, name, cause
        self.__cause__ = cause


class RecordedLLMError(StepError):
    """A recorded LLM call failed; re-execution fails the same way."""
