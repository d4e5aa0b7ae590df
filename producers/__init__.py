"""The event log and the SDK that writes to it.

- :class:`EventLog` (the port), :class:`Position`, :class:`Record`, :class:`Subscription`;
- what only some logs can do, as sub-protocols to test with ``isinstance``:
  :class:`LiveMembers`, :class:`LocalFile`, :class:`BrokerCluster`, :class:`RunsInline`;
- :func:`open_log` picks the adapter by URL: ``sqlite:///…`` (embedded, the default) or
  ``kafka://host:port`` (needs ``omium[kafka]``);
- :class:`Recorder`, :func:`recording`, :func:`emit` and the :func:`step` decorator for
  agent code;
- :func:`llm_call` and :func:`tool_call`: calls recorded on a run and answered from the
  log when it is re-executed;
- :func:`partition_for`, Kafka's default key -> partition function;
- :class:`KafkaSecurity` (TLS and SASL for every Kafka client, from the URL and the
  settings: :func:`resolve_security`) and :func:`mask_url` / :func:`public_url`, how a URL
  with a password is shown.

Imports :mod:`omium.schemas` only. Importing it pulls neither aiokafka nor any framework:
the Kafka adapter is imported when a ``kafka://`` log is opened.
"""

from omium.producers.calls import llm_call, tool_call
from omium.producers.kafka_security import KafkaSecurity, mask_url, public_url, resolve_security
from omium.producers.partitioner import murmur2, partition_for
from omium.producers.port import (
    BrokerCluster,
    EventLog,
    LiveMembers,
    LocalFile,
    Position,
    Record,
    RunsInline,
    Subscription,
    Tail,
    Tailing,
    Versioned,
)
from omium.producers.sdk import Appended, Recorder, current_recorder, emit, recording, step
from omium.producers.settings import DRIVERS, Settings, open_log

__all__ = [
    "DRIVERS",
    "Appended",
    "BrokerCluster",
    "EventLog",
    "KafkaSecurity",
    "LiveMembers",
    "LocalFile",
    "Position",
    "Record",
    "Recorder",
    "RunsInline",
    "Settings",
    "Subscription",
    "Tail",
    "Tailing",
    "Versioned",
    "current_recorder",
    "emit",
    "llm_call",
    "mask_url",
    "murmur2",
    "open_log",
    "partition_for",
    "public_url",
    "recording",
    "resolve_security",
    "step",
    "tool_call",
]
