"""LangGraph on omium: a checkpointer whose checkpoints are events on the omium log.

- :class:`OmiumSaver`: a ``BaseCheckpointSaver`` (sync and async, conformance-tested);
  ``thread_id`` is the omium ``execution_id``;
- :class:`CheckpointSink`: the port an execution runner implements to stamp the saver's
  events itself; :class:`LogSink` is the default (standalone) one;
- :class:`CheckpointTooLarge` (a checkpoint or writes over the log's event size limit) and
  :class:`SyncCallOnLogLoop` (a blocking call made on the log's own event loop), both
  defined with the rest of the error tree in :mod:`omium.schemas.errors`.

The runner (``runner.py``) and the models (``models.py``) are imported by the runtimes that
use them. Imports langgraph, :mod:`omium.schemas` and :mod:`omium.producers`; no runtime.
"""

from omium.adapters.langgraph.checkpoint_sink import CheckpointSink, Events, LogSink
from omium.adapters.langgraph.payloads import render
from omium.adapters.langgraph.saver import DEFAULT_TIMEOUT, OmiumSaver
from omium.schemas import CheckpointTooLarge, SyncCallOnLogLoop

__all__ = [
    "DEFAULT_TIMEOUT",
    "CheckpointSink",
    "CheckpointTooLarge",
    "Events",
    "OmiumSaver",
    "LogSink",
    "SyncCallOnLogLoop",
    "render",
]
