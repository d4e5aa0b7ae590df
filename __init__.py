"""omium: durable, inspectable and reversible AI agent workflows.

Every agent step is an immutable event on a log (Kafka, or an embedded SQLite twin);
stream processors fold the events into views; replay and rollback re-read the log.

The package offers the SDK agent code calls: :func:`step` (a decorator recording a function
as a step with a checkpoint), :func:`recording` and :func:`emit` (record events of one's
own), :func:`llm_call` and :func:`tool_call` (calls recorded on a run and answered from the
log when it is re-executed), and :func:`open_log`. Importing it costs what
:mod:`omium.producers` costs (pydantic and the event model); neither aiokafka nor a
framework is imported until used.

The folders are sub-packages, each saying in its docstring what it offers and may import:
``omium.schemas`` (the event model, topics, errors), ``omium.projections`` (pure folds),
``omium.producers`` (the event log and the SDK), ``omium.adapters`` (framework bridges),
``omium.processors`` (the runtimes), ``omium.gateway``, ``omium.cli`` and ``omium.infra``.
"""

from omium.producers import emit, llm_call, open_log, recording, step, tool_call

__version__ = "0.1.0"

__all__ = ["__version__", "emit", "llm_call", "open_log", "recording", "step", "tool_call"]
