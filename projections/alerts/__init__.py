"""Alert rules evaluated on the live stream, as pure state machines (no IO, no clock).

- :func:`evaluate` ``(rules, state, event) -> alerts`` and :func:`tick`
  ``(rules, state, now) -> alerts`` (:mod:`.engine`); what each kind does: :mod:`.kinds`
  and, for the rules over many executions, :mod:`.windows`;
- :class:`AlertState` (what the rules remember, JSON round-trip) and :class:`Alert`
  (raised or resolved, with a derived id and event): :mod:`.state`.

The runners (embedded and Kafka) live in :mod:`omium.processors.alerts`.
"""

from omium.projections.alerts.engine import KEEP_FINISHED, Pricer, evaluate, matches, tick
from omium.projections.alerts.kinds import call_key, percentile
from omium.projections.alerts.state import ALERT_NAMESPACE, Alert, AlertState, RunState

__all__ = [
    "ALERT_NAMESPACE",
    "KEEP_FINISHED",
    "Alert",
    "AlertState",
    "Pricer",
    "RunState",
    "call_key",
    "evaluate",
    "matches",
    "percentile",
    "tick",
]
