"""Templates, the page helper, and the dashboard's error pages.

The dashboard answers in HTML where the API answers in problem+json: an omium error raised
by a use case on a dashboard route (an unknown id — or another tenant's, which is the
same — a refused command) becomes a page with the same one-line message and status.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from omium.gateway.dashboard.session import (
    LoginNeeded,
    Refused,
    Session,
    caller_of,
    csrf_of,
    set_cookie,
)
from omium.gateway.errors import problem, status_of
from omium.schemas import OmiumError

log = logging.getLogger("omium.gateway")

#: no script, style or frame from anywhere but this gateway (no inline script either)
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

#: the nav: (path, label); Alerts and Analytics are frames the other pages slot into
NAV = [
    ("/", "Executions"),
    ("/workflows", "Workflows"),
    ("/alerts", "Alerts"),
    ("/analytics", "Analytics"),
]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


env = Environment(
    loader=PackageLoader("omium.gateway.dashboard", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["json"] = _json
env.filters["iso"] = _iso
templates = Jinja2Templates(env=env)


def page(
    request: Request,
    session: Session | None,
    name: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """Render template ``name`` for ``session`` (None: a page before login)."""
    csrf, fresh = (session.csrf, session.fresh_csrf) if session else csrf_of(request)
    values = {"session": session, "csrf": csrf, "nav": NAV, "path": request.url.path}
    response = templates.TemplateResponse(
        request, name, {**values, **(context or {})}, status_code=status
    )
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    if fresh:
        set_cookie(response, request, "omium_csrf", csrf)
    return response


def wants_json(request: Request) -> bool:
    """The page's script posted the form (it wants a short answer, not a redirect)."""
    return "application/json" in request.headers.get("accept", "")


def done(request: Request, to: str, message: str) -> Response:
    """A successful form: JSON for the script, else a redirect to ``to`` (303: GET it)."""
    if wants_json(request):
        return JSONResponse({"ok": True, "message": message, "location": to})
    return RedirectResponse(to, status_code=303)


async def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": False, "message": detail}, status_code=status)
    caller, keyless = await caller_of(request)
    session = None
    if caller is not None:
        csrf, fresh = csrf_of(request)
        omium = request.app.state.omium
        session = Session(caller, omium.as_caller(caller), csrf, fresh, keyless)
    context = {"title": title, "detail": detail, "status": status}
    return page(request, session, "error.html", context, status)


def install_errors(app: FastAPI, prefixes: tuple[str, ...]) -> None:
    """Answer the dashboard's errors with pages (the API's paths keep problem+json)."""

    async def on_omium(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OmiumError)
        status, kind = status_of(exc)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        if not _dashboard(request.url.path, prefixes):
            return problem(status, kind, str(exc), request.url.path)
        titles = {404: "Not found", 409: "Refused", 422: "Invalid"}
        return await _error_page(request, status, titles.get(status, "Error"), str(exc))

    async def on_login(request: Request, exc: Exception) -> Response:
        if request.method == "GET":
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return await _error_page(request, 401, "Log in", "log in with an API key first")

    async def on_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return await _error_page(request, exc.status, "Refused", exc.detail)

    app.add_exception_handler(OmiumError, on_omium)
    app.add_exception_handler(LoginNeeded, on_login)
    app.add_exception_handler(Refused, on_refused)


def _dashboard(path: str, prefixes: tuple[str, ...]) -> bool:
    return path == "/" or any(path == p or path.startswith(p + "/") for p in prefixes)
