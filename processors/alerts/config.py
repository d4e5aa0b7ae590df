"""The alert rules in force, read and checked.

``--alerts``, else ``OMIUM_ALERTS``, else the default rules shipped in ``infra/alerts.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from omium.producers import Settings
from omium.schemas import InvalidSpec
from omium.schemas.alert_rules import AlertRules, rules_from_data

#: the rules omium ships (package data beside the other infra files; read, never imported)
DEFAULT_RULES = Path(__file__).resolve().parents[2] / "infra" / "alerts.yaml"


def rules_path(path: Path | None = None, settings: Settings | None = None) -> Path:
    """The rules file in force: ``path``, else ``OMIUM_ALERTS``, else :data:`DEFAULT_RULES`."""
    if path is not None:
        return path
    configured = (settings or Settings.load()).alerts
    return configured if configured is not None else DEFAULT_RULES


def load_rules(path: Path) -> AlertRules:
    """Read, parse and check a rules file.

    Raises:
        InvalidSpec: it cannot be read, is not YAML, or is not a valid rules file (one line:
            file, field path, what was expected; exit 2).
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InvalidSpec(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidSpec(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise InvalidSpec(f"{path}: not valid YAML{line}: {exc}".splitlines()[0]) from None
    return rules_from_data(data, str(path))
