"""Runtimes that consume the log, and the services the CLI calls.

Running executions:

- :mod:`.worker`: :class:`~omium.processors.worker.Worker` consumes ``omium.commands`` as a
  consumer group and runs the executions of the partitions it owns;
- :mod:`.execution`: :class:`~omium.processors.execution.ExecutionRunner` runs one execution
  (group commit, pause / resume / cancel, timeout, rollback) whatever its framework;
- :mod:`.frameworks`: each framework's run and re-execution (``python``, ``langgraph``,
  ``crewai``), registered by name; :mod:`.control`: what commands ask of a running execution;
- :mod:`.reexecute`: debug re-execution of a recorded attempt, answered from the log.

Keeping views up to date:

- :mod:`.projector` and :mod:`.view_store`: the embedded projections (SQLite);
- :mod:`.faust_app` and :mod:`.changelog`: the Kafka projections (faust-streaming);
- :mod:`.reader`: the ``ProjectionReader`` port the CLI reads views through;
  :mod:`.rebuild`: views rebuilt from the log.

What the CLI calls: :mod:`.service` (submit, steer, follow, look up) and :mod:`.history`
(replay, diff, checkpoints).

May import: schemas, projections, producers, adapters.
"""
