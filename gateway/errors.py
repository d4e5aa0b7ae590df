"""Errors as RFC 9457 problem details (``application/problem+json``), in one place.

Every deliberate omium error (:mod:`omium.schemas.errors`) maps to a status and a stable
``type`` URI by its class; the ``detail`` is the CLI's one-line message. A request that
does not validate is a 422 with the fields named; anything else is a bug: a 500 whose
body says so without leaking the traceback (which goes to the server's log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from omium.schemas import (
    ConfigError,
    Conflict,
    InvalidEvent,
    LogError,
    LogUnavailable,
    NotFound,
    NoViews,
    OmiumError,
)

PROBLEM = "application/problem+json"
TYPES = "https://omium.dev/problems/"

#: most specific first: the first class an error is an instance of decides
STATUSES: list[tuple[type[OmiumError], int, str]] = [
    (NotFound, 404, "not-found"),
    (Conflict, 409, "conflict"),
    (ConfigError, 422, "invalid-request"),
    (InvalidEvent, 422, "invalid-event"),
    (LogUnavailable, 503, "log-unavailable"),
    (NoViews, 503, "no-views"),
    (LogError, 502, "log-error"),
    (OmiumError, 500, "omium-error"),
]

log = logging.getLogger("omium.gateway")


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, as the CLI would say it."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


def problem(
    status: int,
    kind: str,
    detail: str,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = Problem(
        type=TYPES + kind,
        title=kind.replace("-", " "),
        status=status,
        detail=detail,
        instance=instance,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM,
        headers=dict(headers or {}),
    )


def status_of(error: OmiumError) -> tuple[int, str]:
    """The HTTP status and problem type of an omium error."""
    for cls, status, kind in STATUSES:
        if isinstance(error, cls):
            return status, kind
    return 500, "omium-error"  # pragma: no cover - OmiumError is last in STATUSES


#: the problem responses every route may give, for the OpenAPI document
RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM: {}}, "description": text}
    for code, text in [
        (400, "The request body cannot be read (not UTF-8 JSON)."),
        (404, "No execution (or checkpoint) with that id, or another tenant's."),
        (409, "The execution's state refuses the request (e.g. pause a finished run)."),
        (413, "The request body is larger than the limit."),
        (422, "The request is not valid (the detail names what and how to fix it)."),
        (503, "The log or the projections cannot be reached in time."),
    ]
}


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(OmiumError)
    async def omium_error(request: Request, error: OmiumError) -> JSONResponse:
        status, kind = status_of(error)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, error)
        return problem(status, kind, str(error), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        detail = f"{where}: {first.get('msg', 'invalid')}" if where else str(error)
        return problem(422, "invalid-request", detail, request.url.path)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        kind = {
            400: "unreadable-body",
            404: "not-found",
            405: "method-not-allowed",
            413: "too-large",
        }.get(error.status_code, "http-error")
        # a 405 keeps its Allow header (RFC 9110)
        return problem(error.status_code, kind, str(error.detail), request.url.path, error.headers)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem(500, "internal", "internal error (a bug: see the server's log)")
