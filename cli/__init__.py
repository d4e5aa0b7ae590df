"""The ``omium`` command line: a thin shell over the same services the gateway uses.

:func:`main` is the console script; it runs the typer app and turns omium's errors into
one line on stderr and an exit code (no traceback for a user's mistake).
"""

from omium.cli.app import app, main

__all__ = ["app", "main"]
