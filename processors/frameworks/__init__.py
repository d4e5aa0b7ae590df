"""Each framework's run and re-execution, registered by name; the runner never names one.

A workflow file names its framework (``framework: python | langgraph | crewai``); the
executor and ``omium replay --reexecute`` ask :func:`load_framework` for it and drive it
through the contract in :mod:`omium.processors.frameworks.base`. The built-in frameworks are
modules of this package, each with a ``FRAMEWORK``; the two that need an extra
(``omium[langgraph]``, ``omium[crewai]``) are imported the first time a workflow uses them,
on a thread (crewai takes seconds to import: a loop blocked that long misses heartbeats and
looks dead to its consumer group). :func:`register` adds or replaces one.

May import: schemas, projections, producers, adapters, and ``processors.control``.
"""

from __future__ import annotations

import asyncio
import importlib

from omium.processors.frameworks.base import (
    ROLLBACK,
    Branch,
    Framework,
    FrameworkRun,
    Reexecution,
    ReexecutionRequest,
    RunContext,
    StepOutcome,
    branch_start,
)
from omium.schemas import ConfigError

#: built-in framework name -> the module whose ``FRAMEWORK`` it is (imported on first use)
BUILTIN = {
    "python": "omium.processors.frameworks.python",
    "langgraph": "omium.processors.frameworks.langgraph",
    "crewai": "omium.processors.frameworks.crewai",
}

_registered: dict[str, Framework] = {}


def register(framework: Framework) -> None:
    """Make ``framework`` the one that runs workflows naming ``framework.name``."""
    _registered[framework.name] = framework


def framework(name: str) -> Framework:
    """The framework called ``name``, importing a built-in one on first use.

    Raises:
        ConfigError: no framework has that name.
    """
    if name not in _registered:
        if name not in BUILTIN:
            known = ", ".join(sorted({*BUILTIN, *_registered}))
            raise ConfigError(f"no framework {name!r}", hint=f"frameworks: {known}")
        found = importlib.import_module(BUILTIN[name]).FRAMEWORK
        assert isinstance(found, Framework)
        _registered.setdefault(name, found)
    return _registered[name]


async def load_framework(name: str) -> Framework:
    """:func:`framework`, importing on a thread so the event loop keeps running."""
    if name in _registered:
        return _registered[name]
    return await asyncio.to_thread(framework, name)


__all__ = [
    "BUILTIN",
    "ROLLBACK",
    "Branch",
    "Framework",
    "FrameworkRun",
    "Reexecution",
    "ReexecutionRequest",
    "RunContext",
    "StepOutcome",
    "branch_start",
    "framework",
    "load_framework",
    "register",
]
