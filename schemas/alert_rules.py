"""Alert rules files: what the alert evaluator watches for, validated before it starts.

Pure, like :mod:`omium.schemas.workflow`: :func:`rules_from_data` takes the decoded YAML
and the file's name and returns :class:`AlertRules`, or raises ``InvalidSpec`` in one line
naming the file, the field path and what was expected::

    alerts.yaml: rules[2].count: Input should be greater than or equal to 2

Each rule has a ``name`` (unique), a ``kind`` (which parameters it takes), a ``severity``,
optional ``workflow`` / ``tenant`` filters and ``sinks`` beyond the log (which always gets
the alert).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from omium.schemas.alerts import Severity
from omium.schemas.errors import InvalidSpec
from omium.schemas.workflow import Duration, first_error
from omium.schemas.workflow_frameworks import check_name

_URL = re.compile(r"^https?://[^\s/]+\S*$")
_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class StderrSink(BaseModel):
    """One line per alert on the worker's stderr."""

    model_config = _STRICT

    type: Literal["stderr"] = "stderr"


class FileSink(BaseModel):
    """One JSON line per alert appended to a file."""

    model_config = _STRICT

    type: Literal["file"] = "file"
    path: str = Field(min_length=1)


class WebhookSink(BaseModel):
    """A JSON POST per alert; retried with exponential backoff, header ``Idempotency-Key``."""

    model_config = _STRICT

    type: Literal["webhook"] = "webhook"
    url: str = Field(description="http(s)://host/path")
    timeout: Duration = 5.0
    retries: int = Field(3, ge=0, le=20, description="tries after the first one")
    backoff: Duration = Field(0.5, description="the first retry's delay; doubles each time")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value


Sink = Annotated[StderrSink | FileSink | WebhookSink, Field(discriminator="type")]


class _Rule(BaseModel):
    model_config = _STRICT

    name: str
    severity: Severity = "warning"
    workflow: str | None = Field(None, description="only executions of this workflow")
    tenant: str | None = Field(None, description="only this tenant's executions")
    sinks: list[Sink] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, what="a rule name")


class ExecutionFailedRule(_Rule):
    """An execution ends failed or timed out; with ``count`` > 1, that many in ``window``."""

    kind: Literal["execution_failed"] = "execution_failed"
    count: int = Field(1, ge=1)
    window: Duration | None = Field(None, description="needed when count > 1")

    @model_validator(mode="after")
    def _window(self) -> ExecutionFailedRule:
        if self.count > 1 and self.window is None:
            raise ValueError("count > 1 needs a window (e.g. window: 10m)")
        return self


class StepLatencyRule(_Rule):
    """A step slower than ``threshold``, or than ``factor`` × its rolling p95."""

    kind: Literal["step_latency"] = "step_latency"
    step: str | None = Field(None, description="only this step (default: every step)")
    threshold: Duration | None = None
    factor: float | None = Field(None, gt=1, description="k in: slower than k × p95")
    runs: int = Field(20, ge=5, le=1000, description="the p95 is over this many last runs")

    @model_validator(mode="after")
    def _one_bound(self) -> StepLatencyRule:
        if (self.threshold is None) == (self.factor is None):
            raise ValueError("set exactly one of threshold (e.g. 30s) or factor (e.g. 3)")
        return self


class CostBudgetRule(_Rule):
    """An execution's LLM cost goes above ``budget_usd``."""

    kind: Literal["cost_budget"] = "cost_budget"
    budget_usd: float = Field(gt=0)


class CostBurnRule(_Rule):
    """A tenant's LLM cost over the last ``window`` goes above ``usd_per_hour``."""

    kind: Literal["cost_burn"] = "cost_burn"
    usd_per_hour: float = Field(gt=0)
    window: Duration = 3600.0


class LoopRule(_Rule):
    """The same tool (or LLM) called with the same arguments ``count`` times in one attempt."""

    kind: Literal["loop"] = "loop"
    count: int = Field(3, ge=2)
    calls: Literal["tool", "llm", "any"] = "any"


class HandoffPingPongRule(_Rule):
    """Two agents hand control back and forth more than ``count`` times in one attempt."""

    kind: Literal["handoff_ping_pong"] = "handoff_ping_pong"
    count: int = Field(3, ge=1)


class StuckRule(_Rule):
    """A running execution records no event for ``after`` (fires on a timer)."""

    kind: Literal["stuck"] = "stuck"
    after: Duration


class WaitingTooLongRule(_Rule):
    """Human input requested and not answered within ``after`` (fires on a timer)."""

    kind: Literal["waiting_too_long"] = "waiting_too_long"
    after: Duration


class FailureRateRule(_Rule):
    """A workflow's share of failed runs over ``window`` goes above ``threshold``."""

    kind: Literal["failure_rate"] = "failure_rate"
    threshold: float = Field(gt=0, lt=1, description="e.g. 0.2 for 20 %")
    window: Duration = 3600.0
    min_runs: int = Field(5, ge=1, description="no rate below this many finished runs")


Rule = Annotated[
    ExecutionFailedRule
    | StepLatencyRule
    | CostBudgetRule
    | CostBurnRule
    | LoopRule
    | HandoffPingPongRule
    | StuckRule
    | WaitingTooLongRule
    | FailureRateRule,
    Field(discriminator="kind"),
]
"""Any rule, discriminated by ``kind``."""

#: every rule class, and the kinds by name
RULE_TYPES: tuple[type[_Rule], ...] = tuple(get_args(get_args(Rule)[0]))
KINDS: tuple[str, ...] = tuple(str(c.model_fields["kind"].default) for c in RULE_TYPES)


class AlertRules(BaseModel):
    """A whole rules file."""

    model_config = _STRICT

    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> AlertRules:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}; names must be unique")
            seen.add(rule.name)
        return self


def rules_from_data(data: object, filename: str) -> AlertRules:
    """Check a decoded rules file (``filename`` is for messages).

    Raises:
        InvalidSpec: the first thing wrong, in one line (file, field path, expected).
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidSpec(f"{filename}: expected a mapping with 'rules', got {type(data).__name__}")
    for i, rule in enumerate(data.get("rules") or []):
        kind = rule.get("kind") if isinstance(rule, dict) else None
        if isinstance(rule, dict) and kind not in KINDS:
            got = "nothing" if kind is None else repr(kind)
            raise InvalidSpec(
                f"{filename}: rules[{i}].kind: expected one of {', '.join(KINDS)}, got {got}"
            )
    try:
        return AlertRules.model_validate(data)
    except ValidationError as exc:
        raise InvalidSpec(
            first_error(filename, exc, data, what="an alert rule", loc=_without_tags)
        ) from None


def _without_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union tags pydantic puts in a location (``rules.0.loop.count``)."""
    tags = {*KINDS, "stderr", "file", "webhook"}
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (isinstance(part, str) and part in tags and i > 0 and isinstance(loc[i - 1], int))
    )
