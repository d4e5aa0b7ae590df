"""Workflow files and inputs: read, parse and check them before anything is submitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import yaml

from omium.processors.frameworks import framework
from omium.schemas import ConfigError, InvalidSpec
from omium.schemas.workflow import DURABILITY_MODES, WorkflowSpec, spec_from_data


def load_workflow(path: Path) -> WorkflowSpec:
    """Read, parse and check a workflow file (its step functions are imported too)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InvalidSpec(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidSpec(f"{path}: cannot read it ({exc.strerror})") from None
    spec = parse_spec(text, str(path))
    # the workflow's code is imported now, so a typo fails here and not in a worker
    framework(spec.framework).check(spec, path.resolve().parent, str(path))
    return spec


def with_durability(spec: WorkflowSpec, durability: str | None) -> WorkflowSpec:
    """``spec`` with its ``durability`` set for this run (None: as the workflow says).

    Raises:
        ConfigError: not one of the modes.
    """
    if durability is None:
        return spec
    if durability not in DURABILITY_MODES:
        raise ConfigError(
            f"--durability {durability!r}: not a durability mode",
            hint=f"use {' or '.join(DURABILITY_MODES)}",
        )
    return spec.model_copy(update={"durability": durability})


def parse_spec(text: str, filename: str) -> WorkflowSpec:
    """Parse a YAML or JSON workflow file's text (``filename`` is for messages)."""
    try:
        data = json.loads(text) if filename.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise InvalidSpec(f"{filename}: not valid YAML/JSON{line}: {exc}".splitlines()[0]) from None
    return spec_from_data(data, filename)


def parse_inputs(
    pairs: list[str], inputs_file: Path | None = None, *, flag: str = "--input"
) -> dict[str, Any]:
    """``key=value`` pairs (value parsed as JSON when it is JSON) over an optional file."""
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        try:
            loaded = orjson.loads(inputs_file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"--inputs-file {inputs_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--inputs-file {inputs_file}: expected a JSON object")
        inputs.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r}: expected key=value", hint=f"e.g. {flag} top=3")
        try:
            inputs[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            inputs[key] = value
    return inputs
