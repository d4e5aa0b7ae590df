"""A workflow's version: a content hash of its spec and of the modules it names.

The same files give the same version on any machine, so a worker can tell whether what it
would run is what was registered (and submitted). The modules counted are those the spec
names as ``module:attribute`` (steps, graph and crew factories, tools) that resolve beside
the workflow file; third-party packages are not part of a workflow's version, and neither
are modules those modules import in turn (name them in the spec, or vendor them in one).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from omium.schemas.workflow import WorkflowSpec

#: ``module.sub:attribute``: how a spec names code
CODE_REF = re.compile(r"^([A-Za-z_][\w.]*):[A-Za-z_]\w*$")


def workflow_version(spec: WorkflowSpec, source: Path) -> tuple[str, list[str]]:
    """The version of ``spec`` with the modules beside ``source``, and those modules' paths."""
    digest = hashlib.sha256(orjson.dumps(spec.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS))
    found: list[str] = []
    for module in sorted(set(_modules(spec.model_dump(mode="json")))):
        path = _module_file(source.parent, module)
        if path is None:
            continue  # not beside the workflow: an installed package
        found.append(str(path.relative_to(source.parent)))
        digest.update(module.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"v-{digest.hexdigest()[:12]}", found


def _modules(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        match = CODE_REF.match(value)
        if match:
            yield match.group(1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _modules(item)
    elif isinstance(value, list):
        for item in value:
            yield from _modules(item)


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None
