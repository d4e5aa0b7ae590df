"""Every request counted and timed by route, and bodies over the limit refused (413).

:class:`Measured` is a plain ASGI middleware rather than ``@app.middleware("http")``:
Starlette's ``BaseHTTPMiddleware`` runs the rest of the app in a task group and pipes the
response through memory streams, which cost about a third of the CPU of a ``GET /healthz``
here (see docs/benchmarks.md). Latency is taken when the response starts, so an SSE
stream counts its time to first byte, not its lifetime.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omium.gateway import errors


class Metrics:
    """The gateway's Prometheus registry: requests by route and status, and latencies."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "omium_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "omium_http_request_seconds",
            "HTTP request latency by route (to the response's first byte)",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one request of ``scope`` (its route template is the label, not its path)."""
        route = getattr(scope.get("route"), "path", "unmatched")
        self.requests.labels(scope["method"], route, str(status)).inc()
        self.latency.labels(scope["method"], route).observe(seconds)


class Measured:
    """ASGI middleware: :class:`Metrics` for every HTTP request, 413 past ``limit`` bytes."""

    def __init__(self, app: ASGIApp, metrics: Metrics, limit: int) -> None:
        self.app, self.metrics, self.limit = app, metrics, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting it when its response starts (or it fails)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None  # None until the response starts

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.metrics.observe(scope, status, time.perf_counter() - started)
            await send(message)

        try:
            length = _header(scope, b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                detail = f"request body over {self.limit:,} bytes"
                refused = errors.problem(413, "too-large", detail, scope["path"])
                await refused(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            if status is None:  # an exception: the server's error handler answers 500
                self.metrics.observe(scope, 500, time.perf_counter() - started)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None
