"""``omium serve``: the HTTP gateway (FastAPI on uvicorn) over the log."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from typing import Annotated

import typer

from omium.cli.aio import UrlOpt, run
from omium.schemas import ConfigError
from omium.services import bootstrap
from omium.services.client import refuse_remote
from omium.services.keys import Keys

#: the ASGI factory uvicorn imports (by name: the CLI never imports the gateway itself)
FACTORY = "omium.gateway.app:create_app"


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to bind (other than loopback: only with API keys).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    url: UrlOpt = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Gateway processes sharing the port (each a stateless replica)."
        ),
    ] = 1,
) -> None:
    """Serve the REST API (/api/v1, /healthz, /readyz, /metrics) until Ctrl-C or SIGTERM.

    The API is described at /openapi.json. With API keys (`omium keys create`) every
    request needs one and sees only its tenant; without any, the gateway serves tenant
    `default` to anyone who can reach it, so it binds to loopback only.

    With --workers N, uvicorn runs N processes on the one socket, each with its own log
    client and view reader (as N replicas would), so N cores can answer.
    """
    refuse_remote(url, "`omium serve`")
    keyed = run(_any_keys(url))
    if not keyed and not _loopback(host):
        raise ConfigError(
            f"--host {host}: with no API key configured omium serve binds to loopback only",
            hint="create one with `omium keys create --tenant T --name N`, or use --host 127.0.0.1",
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
    who = "API keys required" if keyed else "no API keys: loopback only, tenant default"
    many = f", {workers} processes" if workers > 1 else ""
    typer.echo(f"omium serve: http://{host}:{port}/api/v1 ({who}{many})", err=True)
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        lifespan="on",
    )


async def _any_keys(url: str | None) -> bool:
    async with bootstrap(url) as omium:
        return await Keys(omium).any_active()


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
