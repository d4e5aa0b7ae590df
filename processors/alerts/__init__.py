"""The alert processor: the pure rules of :mod:`omium.projections.alerts` on the live log.

- :class:`AlertEvaluator` (:mod:`.evaluator`): follows ``omium.events`` from the offsets its
  :class:`AlertStore` (:mod:`.store`, SQLite beside the log) keeps with the rules' state in
  one transaction; appends each alert once (an outbox unique by alert id); timers tick on the
  wall clock once caught up;
- sinks (:mod:`.sinks`): stderr, a file, a webhook, delivered in the background by a
  :class:`Dispatcher`; a delivery that fails for good is an ``alert.delivery_failed`` event;
- on Kafka, faust agents with changelogged tables and a timer (:mod:`.faust_rules`, which
  imports faust: registered by the projections' faust app), their topics
  :data:`ALERT_TOPICS`; and :class:`Member` (:mod:`.members`), the evaluator split
  statically over N processes (``omium alerts run --member``);
- :func:`load_rules` / :func:`rules_path` (:mod:`.config`): ``--alerts``, ``OMIUM_ALERTS`` or
  the default ``infra/alerts.yaml``.
"""

from omium.processors.alerts.config import DEFAULT_RULES, load_rules, rules_path
from omium.processors.alerts.evaluator import AlertEvaluator
from omium.processors.alerts.faust_state import ALERT_TOPICS
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
    "ALERT_TOPICS",
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
