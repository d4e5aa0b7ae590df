"""Runtimes that consume the log: the executor worker and the services the CLI calls.

- :class:`~omium.processors.worker.Worker` consumes ``omium.commands`` as a group and runs
  executions (:class:`~omium.processors.execution.ExecutionRunner`);
- :mod:`omium.processors.service`: submit, steer, follow and look up executions.
"""
