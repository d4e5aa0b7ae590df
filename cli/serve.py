"""``omium serve``: the HTTP gateway (FastAPI on uvicorn) over the log."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from typing import Annotated

import typer

from omium.cli.aio import UrlOpt
from omium.schemas import ConfigError

#: the ASGI factory uvicorn imports (by name: the CLI never imports the gateway itself)
FACTORY = "omium.gateway.app:create_app"


def serve_command(
    host: Annotated[str, typer.Option(help="Address to bind (loopback only, for now).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    url: UrlOpt = None,
) -> None:
    """Serve the REST API (/api/v1, /healthz, /readyz, /metrics) until Ctrl-C or SIGTERM.

    The API is described at /openapi.json. Without API keys (not in this version) the
    gateway serves tenant `default` and binds to loopback only; other addresses are refused.
    """
    if not _loopback(host):
        raise ConfigError(
            f"--host {host}: without API keys omium serve binds to loopback only",
            hint="use --host 127.0.0.1 (or ::1) and put a reverse proxy in front",
        )
    _check_free(host, port)
    try:
        import uvicorn
    except ImportError:
        raise ConfigError(
            "omium serve needs the gateway extra", hint="pip install 'omium[gateway]'"
        ) from None
    if url is not None:
        os.environ["OMIUM_LOG_URL"] = url  # the factory reads the settings
    typer.echo(
        f"omium serve: http://{host}:{port}/api/v1 (no API keys: loopback only, tenant default)",
        err=True,
    )
    uvicorn.run(FACTORY, factory=True, host=host, port=port, log_level="warning", lifespan="on")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_free(host: str, port: int) -> None:
    """Refuse a port in use with one line, before uvicorn logs a traceback-like error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is in use", hint="choose another with --port"
                ) from None
            raise ConfigError(f"cannot bind {host}:{port}: {exc.strerror}") from None
