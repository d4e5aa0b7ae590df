"""The alert processor: the pure rules of :mod:`omium.projections.alerts` on the live log.

- :class:`AlertEvaluator` (:mod:`.evaluator`): follows ``omium.events`` from the offsets its
  :class:`AlertStore` (:mod:`.store`, SQLite beside the log) keeps with the rules' state in
  one transaction; appends each alert once (an outbox unique by alert id); timers tick on the
  wall clock once caught up;
- sinks (:mod:`.sinks`): stderr, a file, a webhook, delivered in the background by a
  :class:`Dispatcher`; a delivery that fails for good is an ``alert.delivery_failed`` event;
- :class:`Member` (:mod:`.members`): the processor split over N processes on Kafka;
- :func:`load_rules` / :func:`rules_path` (:mod:`.config`): ``--alerts``, ``OMIUM_ALERTS`` or
  the default ``infra/alerts.yaml``.
"""

from omium.processors.alerts.config import DEFAULT_RULES, load_rules, rules_path
from omium.processors.alerts.evaluator import AlertEvaluator
from omium.processors.alerts.members import Member, spans_executions
from omium.processors.alerts.sinks import (
    DeliveryFailed,
    Dispatcher,
    FileSink,
    Sink,
    StderrSink,
    WebhookSink,
    alert_body,
    sinks_for,
)
from omium.processors.alerts.store import AlertStore, alerts_beside, store_path_for

__all__ = [
    "DEFAULT_RULES",
    "AlertEvaluator",
    "AlertStore",
    "DeliveryFailed",
    "Dispatcher",
    "FileSink",
    "Member",
    "Sink",
    "StderrSink",
    "WebhookSink",
    "alert_body",
    "alerts_beside",
    "load_rules",
    "rules_path",
    "sinks_for",
    "spans_executions",
    "store_path_for",
]
