"""omium: durable, inspectable and reversible AI agent workflows.

Every agent step is an immutable event on a log (Kafka, or an embedded SQLite twin);
stream processors fold the events into views; replay and rollback re-read the log.

The folders are sub-packages: ``omium.schemas`` (the event model), ``omium.producers``
(the event log and the SDK), ``omium.projections``, ``omium.adapters``, ``omium.processors``,
``omium.gateway``, ``omium.cli`` and ``omium.infra``.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``omium.step`` and friends, imported on first use (``import omium`` stays light)."""
    if name in ("step", "recording", "emit", "open_log"):
        from omium import producers

        return getattr(producers, name)
    raise AttributeError(f"module 'omium' has no attribute {name!r}")
