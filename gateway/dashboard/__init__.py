"""The web dashboard ``omium serve`` shows at ``/``: runs live, timelines, checkpoints, rollback.

Server-rendered pages (Jinja2, :mod:`.pages`) and forms (:mod:`.actions`) over the same use
cases as the JSON API, a small script of our own and SSE for the live parts, every asset
served from this package (no CDN). :func:`install` adds it to the gateway's app.
See docs/dashboard.md.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from omium.gateway.dashboard import actions, pages, reports
from omium.gateway.dashboard.render import install_errors
from omium.services.dashboard import CallCache, CountCache

#: the paths the dashboard answers with pages (and error pages) rather than problem+json
PREFIXES = ("/executions", "/workflows", "/alerts", "/analytics", "/login", "/logout", "/ui")


def install(app: FastAPI) -> None:
    """Serve the dashboard's pages, forms and assets from ``app``."""
    app.include_router(pages.router)
    app.include_router(reports.router)
    app.include_router(actions.router)
    static = Path(__file__).resolve().parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.state.status_counts = CountCache()
    app.state.execution_calls = CallCache()
    install_errors(app, PREFIXES)
