"""The ``omium`` command line: a thin shell over the same services the gateway uses.

:func:`main` is the console script; it runs the typer app and turns omium's errors into
one line on stderr and the error class's exit code (no traceback for a user's mistake).

Argument parsing and rendering only. Imports the use cases (:mod:`omium.processors` until a
``services`` layer exists, plus :mod:`omium.producers` to open the log and
:mod:`omium.projections` for the views it renders) and :mod:`omium.schemas`; never the
framework adapters.
"""

from omium.cli.app import app, main

__all__ = ["app", "main"]
