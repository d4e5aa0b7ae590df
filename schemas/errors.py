"""Every error omium raises on purpose, in one tree.

::

    OmiumError                  one-line message + .hint (the fix); .retriable
    ├── InvalidEvent            an event or record fails validation (names the field)
    │   └── EventTooLarge       encoded size over the limit (names the largest field)
    ├── ConfigError             a setting or URL is wrong (names the variable)
    └── LogError                the event log failed
        ├── LogUnavailable      cannot open / reach the log in time (retriable)
        └── TopicNotFound       the topic does not exist (run `omium topics create`)

The CLI prints ``str(error)`` on one line (never a traceback) and maps the class to an
exit code; the gateway maps it to problem+json. Other exceptions are bugs.
"""

from __future__ import annotations


class OmiumError(Exception):
    """Base of every deliberate omium error.

    Attributes:
        hint: what the user can do about it, appended to the message.
        retriable: whether trying the same thing again later may succeed.
    """

    retriable: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}; {hint}" if hint else message)


class InvalidEvent(OmiumError, ValueError):
    """An event (or a raw record) does not match the schema of its type."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        self.field = field
        super().__init__(message, hint=hint)


class EventTooLarge(InvalidEvent):
    """An encoded event is larger than the configured limit."""

    def __init__(self, message: str, *, size: int, limit: int, field: str | None = None):
        self.size = size
        self.limit = limit
        super().__init__(
            message,
            field=field,
            hint="store big values elsewhere and record a reference, "
            "or raise OMIUM_MAX_EVENT_BYTES",
        )


class ConfigError(OmiumError):
    """A setting, URL or file given to omium is wrong."""


class LogError(OmiumError):
    """The event log could not do what was asked."""


class LogUnavailable(LogError):
    """The log cannot be opened or reached within the timeout."""

    retriable = True


class TopicNotFound(LogError):
    """A topic the caller named does not exist on the log."""
