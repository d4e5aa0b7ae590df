"""The ``omium`` command line: a thin shell over the same services the gateway uses.

:func:`main` is the console script; it runs the typer app and turns omium's errors into
one line on stderr and the error class's exit code (no traceback for a user's mistake).

Argument parsing and rendering only. A command the REST API covers asks
:func:`omium.services.client.connect` for its use cases — over the log, or through a
gateway when ``OMIUM_API_URL`` is set (docs/gateway.md) — so it prints the same either way;
the others open the log with :func:`omium.services.client.direct`, which says in one line
when they cannot run through a gateway. Imports :mod:`omium.services` and
:mod:`omium.schemas`; never the gateway nor the framework adapters.
"""

from omium.cli.app import app, main

__all__ = ["app", "main"]
