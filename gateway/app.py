"""``create_app()``: the FastAPI application ``omium serve`` runs (an ASGI factory).

Nothing is opened at import: the lifespan bootstraps one :class:`~omium.services.Omium`
(the log named by ``OMIUM_LOG_URL`` and its projection reader) per process and closes it
on shutdown. Replicas are stateless: each reads the log and the projections, never
another replica's memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

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
from omium.gateway.metrics import Measured, Metrics
from omium.services import Settings, bootstrap, registry
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
            registry.keep_copy(omium)  # a submission resolves its workflow without a read
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
    metrics = Metrics()
    app.state.metrics = metrics.registry
    app.add_middleware(Measured, metrics=metrics, limit=limit)
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
