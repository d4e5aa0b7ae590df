"""Workflow specs: every kind of bad spec is refused before anything runs, naming the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from omium.schemas import ConfigError, InvalidSpec
from omium.schemas.workflow import Retries, parse_duration
from omium.services.workflows import load_workflow, parse_inputs, parse_spec

GOOD = """
name: pipeline
inputs: {topic: kafka}
steps:
  - name: fetch
    call: steps_mod:fetch
    timeout: 30s
    retries: {max_attempts: 3, backoff: exponential, initial: 1s}
  - name: summarize
    call: steps_mod:summarize
timeout: 10m
"""

STEPS = """
def fetch(state):
    return {"fetched": True}

async def summarize(state):
    return None

def two_args(a, b):
    return None

NOT_CALLABLE = 3
"""


def test_parse__a_good_spec() -> None:
    spec = parse_spec(GOOD, "p.yaml")
    assert [s.name for s in spec.steps] == ["fetch", "summarize"]
    assert spec.steps[0].timeout == 30.0 and spec.timeout == 600.0
    assert spec.steps[0].retries.max_attempts == 3


def test_parse__json_too() -> None:
    text = '{"name": "x", "steps": [{"name": "a", "call": "m:f"}]}'
    assert parse_spec(text, "x.json").name == "x"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("30s", "3 parsecs"), "p.yaml: steps[0].timeout: expected a duration like 500ms"),
        (("timeout: 10m", "timout: 10m"), "p.yaml: timout: unknown key"),
        (("steps_mod:fetch", "fetch"), "steps[0].call: expected module:function"),
        (("max_attempts: 3", "max_attempts: 0"), "p.yaml: steps[0].retries.max_attempts: "),
        (("backoff: exponential", "backoff: linear"), "expected 'fixed' or 'exponential'"),
        (("name: summarize", "name: fetch"), "two steps are named 'fetch'"),
        (("name: pipeline\n", ""), "p.yaml: name: required key is missing"),
        (("timeout: 10m", "timeout: -5s"), "timeout: expected a duration"),
        (("timeout: 10m", "timeout: 0"), "a duration must be positive"),
        (("inputs: {topic: kafka}", "framework: rust"), "framework: expected 'python'"),
    ],
)
def test_parse__bad_specs_name_file_field_and_expectation(
    change: tuple[str, str], message: str
) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(GOOD.replace(*change), "p.yaml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nsteps: []", "needs at least one step"),
        ("name: x\nsteps: [", "not valid YAML/JSON"),
        ("- just\n- a list", "expected a mapping"),
        ("name: x\nframework: crewai\nsteps: []", "needs 'crew: module:factory' or 'tasks'"),
        ("name: x\nframework: langgraph", "needs 'graph: module:factory'"),
        ("name: x\nframework: langgraph\ngraph: nope", "expected module:attribute"),
        ("name: x\ngraph: g:build\nsteps: [{name: a, call: m:f}]", "set 'framework: langgraph'"),
        (
            "name: x\nframework: crewai\ncrew: m:f\ntasks: [{name: t, description: d, "
            "expected_output: o, agent: a}]",
            "not both",
        ),
        (
            "name: x\nframework: crewai\ntasks: [{name: t, description: d, "
            "expected_output: o, agent: ghost}]",
            "no agent named 'ghost'",
        ),
        (
            "name: x\nframework: crewai\nagents: [{name: a, role: r, goal: g}]\n"
            "tasks: [{name: t, description: d, expected_output: o, agent: a, context: [u]}]",
            "context 'u' is not an earlier task",
        ),
    ],
)
def test_parse__structural_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        parse_spec(text, "p.yaml")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "steps_mod.py").write_text(STEPS)
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "flow.yaml"
    path.write_text(text)
    return path


def test_load__resolves_step_functions_beside_the_file(folder: Path) -> None:
    assert load_workflow(write(folder, GOOD)).name == "pipeline"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("steps_mod:fetch", "no_such_mod:fetch"), "no module 'no_such_mod'"),
        (("steps_mod:fetch", "steps_mod:missing"), "module 'steps_mod' has no 'missing'"),
        (("steps_mod:fetch", "steps_mod:two_args"), "takes one argument (the state dict)"),
        (("steps_mod:fetch", "steps_mod:NOT_CALLABLE"), "is a int, not a function"),
    ],
)
def test_load__bad_step_functions_are_refused(
    folder: Path, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(InvalidSpec, match=re.escape(message)):
        load_workflow(write(folder, GOOD.replace(*change)))


def test_load__missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match="no such file"):
        load_workflow(tmp_path / "nope.yaml")


def test_durations() -> None:
    assert [parse_duration(v) for v in ("500ms", "30s", "10m", "1h", 2, "1.5s")] == [
        0.5,
        30,
        600,
        3600,
        2,
        1.5,
    ]


def test_retry_delays() -> None:
    exponential = Retries(max_attempts=5, initial=1, max_delay=5)
    assert [exponential.delay(r) for r in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert Retries(backoff="fixed", initial=2).delay(3) == 2


def test_inputs__json_when_json_else_text(tmp_path: Path) -> None:
    file = tmp_path / "inputs.json"
    file.write_text('{"a": 1, "b": "file"}')
    inputs = parse_inputs(["b=2", "c=hello", "d=[1, 2]", 'e={"x": true}', "f="], file)
    assert inputs == {"a": 1, "b": 2, "c": "hello", "d": [1, 2], "e": {"x": True}, "f": ""}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_inputs(["novalue"])


def test_spec__refuses_nan_and_infinity_in_inputs_naming_the_key() -> None:
    text = "name: w\nsteps: [{name: a, call: 'm:f'}]\ninputs: {limits: {high: .inf}}\n"
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(text, "wf.yaml")
    assert str(caught.value) == (
        "wf.yaml: inputs.limits.high: inf is not a JSON number (JSON has no NaN or infinity)"
    )
