"""``create_app()``: the FastAPI application ``omium serve`` runs (an ASGI factory).

Nothing is opened at import: the lifespan bootstraps one :class:`~omium.services.Omium`
(the log named by ``OMIUM_LOG_URL`` and its projection reader) per process and closes it
on shutdown. Replicas are stateless: each reads the log and the projections, never
another replica's memory.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

from omium import __version__
from omium.gateway import (
    alerts,
    analytics,
    dashboard,
    docs,
    errors,
    executions,
    ops,
    stream,
    workflows,
)
from omium.gateway.deps import RateLimits
from omium.services import Settings, bootstrap
from omium.services.keys import Keys

#: how old an embedded view read may be: one catch-up of the view store serves the reads
#: of these seconds (see omium.services.throttled)
FRESH_WITHIN_S = 0.005


def create_app(url: str | None = None, max_body: int | None = None) -> FastAPI:
    """The gateway over the log ``url`` (default: ``OMIUM_LOG_URL``).

    ``max_body``: the largest request body accepted (default ``OMIUM_API_MAX_BODY``, 1 MiB).
    """
    settings = Settings.load()
    limit = max_body or settings.api_max_body

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap(url, settings, fresh_within=FRESH_WITHIN_S) as omium:
            app.state.omium = omium
            app.state.keys = Keys(omium)
            yield

    app = FastAPI(
        title="omium",
        version=__version__,
        summary="Durable, inspectable and reversible AI agent workflows, over HTTP.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.state.limits = RateLimits(settings.api_rate, settings.api_burst)
    app.state.metrics = _metrics(app, limit)
    # full paths in the routers: FastAPI keeps an included router nested, and the route
    # template (the metrics label) would lose an include prefix
    app.include_router(executions.router)
    app.include_router(stream.router)
    app.include_router(workflows.router)
    app.include_router(ops.router)
    app.include_router(analytics.router)
    app.include_router(alerts.router)
    app.include_router(docs.router)  # /docs, served from the package (no CDN)
    dashboard.install(app)  # after errors.install: its pages keep the API's problem+json
    return app


def _metrics(app: FastAPI, limit: int) -> CollectorRegistry:
    """Count and time every request by route; refuse bodies over ``limit`` (413)."""
    registry = CollectorRegistry()
    requests = Counter(
        "omium_http_requests",
        "HTTP requests by route and status",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "omium_http_request_seconds",
        "HTTP request latency by route",
        ["method", "route"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            response: Response = errors.problem(
                413, "too-large", f"request body over {limit:,} bytes", request.url.path
            )
        else:
            response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        requests.labels(request.method, path, str(response.status_code)).inc()
        latency.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    return registry
