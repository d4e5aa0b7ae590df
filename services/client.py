"""Where the CLI's use cases are served: over the log, or through a gateway — chosen here.

:func:`connect` gives a :class:`~omium.services.client_port.Client`:

- ``OMIUM_API_URL`` set (and no ``--url`` given): an
  :class:`~omium.services.client_http.HttpClient` through a running ``omium serve``
  (``OMIUM_API_KEY`` is its bearer key);
- otherwise :class:`~omium.services.client_local.Local`: the use cases over the log.

Commands the API cannot serve (a worker, a local workflow file, keys…) open the log with
:func:`direct`, which refuses in one line when the CLI is pointed at a gateway.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from omium.schemas import ConfigError
from omium.services.client_http import HttpClient
from omium.services.client_local import Local
from omium.services.client_port import Client
from omium.services.context import bootstrap

#: the environment variables that send the CLI through a gateway
API_URL, API_KEY = "OMIUM_API_URL", "OMIUM_API_KEY"


def api_url(url: str | None = None) -> str | None:
    """The gateway the CLI goes through: ``OMIUM_API_URL``, unless ``--url`` names a log."""
    if url is not None:
        return None  # a log named on the command line wins over the environment
    return os.environ.get(API_URL) or None


@asynccontextmanager
async def connect(url: str | None = None) -> AsyncIterator[Client]:
    """The use cases, through the gateway (``OMIUM_API_URL``) or over the log ``url``."""
    remote = api_url(url)
    if remote is not None:
        async with HttpClient.open(remote, os.environ.get(API_KEY) or None) as client:
            yield client
        return
    async with bootstrap(url) as app:
        yield Local(app)


@asynccontextmanager
async def direct(url: str | None, what: str) -> AsyncIterator[Local]:
    """The use cases over the log ``url``, for ``what`` (a command the API cannot serve).

    Raises:
        ConfigError: the CLI is pointed at a gateway (``OMIUM_API_URL``) and no ``--url``.
    """
    refuse_remote(url, what)
    async with bootstrap(url) as app:
        yield Local(app)


def refuse_remote(url: str | None, what: str) -> None:
    """Say in one line that ``what`` needs a direct log, when the CLI talks to a gateway."""
    remote = api_url(url)
    if remote is not None:
        raise ConfigError(
            f"{what} needs a direct log, but {API_URL} sends this CLI to {remote}",
            hint="give --url (or unset OMIUM_API_URL and set OMIUM_LOG_URL) to run it on the log",
        )
