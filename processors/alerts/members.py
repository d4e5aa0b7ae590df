"""The alert processor split over N processes (``omium alerts run --member i/N``).

For a Kafka log whose traffic one evaluator cannot keep up with.

An execution's events all go to one partition of ``omium.events`` (keyed by execution), so
a rule about one execution (``loop``, ``handoff_ping_pong``, ``cost_budget``, ``stuck``,
``waiting_too_long``, ``execution_failed`` of one run, ``step_latency`` with a fixed
threshold) needs only that partition: member ``i`` evaluates them on the partitions ``p``
with ``p % N == i``, with its own state, offsets and outbox. A rule over many executions
(``failure_rate``, ``cost_burn``, ``execution_failed`` with a ``count``, ``step_latency``
with a ``factor`` of the step's rolling p95) needs every event of its workflow or tenant,
which no partition holds alone: member 0 also runs those rules, over every partition, in
an evaluator of their own (they read little state per event, so one process carries
them). No condition is evaluated by two members, so each alert is raised once; every
member's outbox drops a condition raised again after its own restart, as with one
evaluator.

The split is static: members agree by their numbers, not through a Kafka group, so a
member's state never moves. Changing ``N`` gives every member new state (files named
after ``i`` and ``N``) that starts at the beginning of the log: readers and webhook
receivers still see each alert once (by ``alert_id``), but the log gets the history's
alerts again. Choose ``N`` up to the number of partitions of ``omium.events``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from omium.schemas import ConfigError
from omium.schemas.alert_rules import (
    CostBurnRule,
    ExecutionFailedRule,
    FailureRateRule,
    Rule,
    StepLatencyRule,
)

_MEMBER = re.compile(r"^(\d+)/(\d+)$")


def spans_executions(rule: Rule) -> bool:
    """Whether ``rule`` needs events of many executions (so of every partition)."""
    if isinstance(rule, FailureRateRule | CostBurnRule):
        return True
    if isinstance(rule, ExecutionFailedRule):
        return rule.count > 1
    if isinstance(rule, StepLatencyRule):
        return rule.factor is not None
    return False


@dataclass(frozen=True, slots=True)
class Member:
    """Member ``index`` of ``count`` evaluators (``0/1``: the only one)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Member:
        """``"i/N"`` with ``0 <= i < N``; anything else is a one-line :class:`ConfigError`."""
        found = _MEMBER.match(text.strip())
        if found is None or int(found.group(1)) >= int(found.group(2)):
            raise ConfigError(
                f"--member {text!r}: expected i/N with 0 <= i < N", hint="e.g. --member 0/2"
            )
        return cls(int(found.group(1)), int(found.group(2)))

    def owns(self, partition: int) -> bool:
        """Whether this member evaluates the per-execution rules of ``partition``."""
        return partition % self.count == self.index

    def split(self, rules: Sequence[Rule]) -> tuple[list[Rule], list[Rule]]:
        """This member's rules: (per execution, on its partitions; across executions, on all).

        Only member 0 gets rules across executions.
        """
        per = [r for r in rules if not spans_executions(r)]
        across = [r for r in rules if spans_executions(r)] if self.index == 0 else []
        return per, across
