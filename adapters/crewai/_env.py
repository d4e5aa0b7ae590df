"""Offline defaults for CrewAI, applied before :mod:`crewai` is first imported.

Each variable is only set when the environment does not already have it:

- ``CREWAI_DISABLE_TELEMETRY=true`` and ``OTEL_SDK_DISABLED=true``: otherwise crewai tries
  to reach its telemetry host and stalls about 10 s at exit when offline;
- ``CREWAI_TRACING_ENABLED=false``: no trace upload, no "view your trace" prompt;
- ``CREWAI_TESTING=true``: no first-run prompt on a terminal;
- ``CREWAI_STORAGE_DIR``: crewai uses it both as a file name for its SQLite stores and as a
  path for memory stores, which only works when it is absolute. The default is
  ``$OMIUM_HOME/crewai`` (``.omium/crewai`` of the working directory), made absolute; a
  relative value already set is made absolute too.

If crewai was imported before omium's adapter, telemetry may already be configured:
import :mod:`omium.adapters.crewai` first (or set the variables yourself).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

DEFAULTS = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_TESTING": "true",
}


def configure_offline_env() -> None:
    """Set the variables above in ``os.environ`` (never overriding one already set)."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    storage = os.environ.get("CREWAI_STORAGE_DIR")
    if storage is None:
        storage = str(Path(os.environ.get("OMIUM_HOME", ".omium")) / "crewai")
    os.environ["CREWAI_STORAGE_DIR"] = str(Path(storage).absolute())


def import_crewai() -> None:
    """Import crewai once, without its one known import-time warning.

    ``crewai.rag`` forbids setting attributes on itself (a module ``__setattr__``), so
    Python's import system emits ``ImportWarning: Cannot set an attribute on 'crewai.rag'
    for child module …`` for each of its submodules. It is harmless, but it is an error
    wherever warnings are errors (omium's tests run with ``filterwarnings = error``).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Cannot set an attribute on 'crewai.rag'", category=ImportWarning
        )
        import crewai  # noqa: F401


configure_offline_env()
import_crewai()
