"""Alert rules files: the default one loads; a bad one is one line naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from omium.schemas import InvalidSpec
from omium.schemas.alert_rules import KINDS, rules_from_data

DEFAULT = Path(__file__).resolve().parents[2] / "infra" / "alerts.yaml"


def test_default_rules__load_and_cover_every_kind() -> None:
    rules = rules_from_data(yaml.safe_load(DEFAULT.read_text()), "alerts.yaml")
    assert {r.kind for r in rules.rules} == set(KINDS)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"name": "a", "kind": "loop", "count": 1},
            "alerts.yaml: rules[0].count: Input should be greater than or equal to 2",
        ),
        ({"name": "a", "kind": "nope"}, "alerts.yaml: rules[0].kind: expected one of"),
        ({"name": "a", "kind": "stuck"}, "alerts.yaml: rules[0].after: required key is missing"),
        (
            {"name": "a", "kind": "stuck", "after": "3 parsecs"},
            "alerts.yaml: rules[0].after: expected a duration like 500ms, 30s, 10m or 1h, "
            "got '3 parsecs'",
        ),
        (
            {"name": "a", "kind": "loop", "sinks": [{"type": "webhook", "url": "ftp://x"}]},
            "alerts.yaml: rules[0].sinks[0].url: expected an http:// or https:// URL",
        ),
        (
            {"name": "a", "kind": "loop", "bogus": 1},
            "alerts.yaml: rules[0].bogus: unknown key (not part of an alert rule)",
        ),
        (
            {"name": "a", "kind": "step_latency"},
            "alerts.yaml: rules[0]: set exactly one of threshold",
        ),
        (
            {"name": "a", "kind": "loop", "severity": "loud"},
            "alerts.yaml: rules[0].severity: expected 'info', 'warning' or 'critical', got 'loud'",
        ),
    ],
)
def test_a_bad_rule__is_one_line_naming_the_field(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        rules_from_data({"rules": [rule]}, "alerts.yaml")
    text = str(caught.value)
    assert text.startswith(message) and "\n" not in text


def test_two_rules_with_one_name__are_refused() -> None:
    with pytest.raises(InvalidSpec, match="two rules are named 'a'"):
        rules_from_data({"rules": [{"name": "a", "kind": "loop"}] * 2}, "alerts.yaml")


def test_an_empty_file__has_no_rules() -> None:
    assert rules_from_data(None, "alerts.yaml").rules == []
