"""omium: durable, inspectable and reversible AI agent workflows.

Every agent step is an immutable event on a log (Kafka, or an embedded SQLite twin);
stream processors fold the events into views; replay and rollback re-read the log.

The folders are sub-packages: ``omium.schemas`` (the event model), ``omium.producers``
(the event log and the SDK), ``omium.projections``, ``omium.adapters``, ``omium.processors``,
``omium.gateway``, ``omium.cli`` and ``omium.infra``.
"""

__version__ = "0.1.0"
