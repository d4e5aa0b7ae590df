"""The dashboard's pages and the fragments its script refreshes them with (GET only).

Each route calls the use cases of :mod:`omium.services` — the ones the JSON API calls — and
renders their response models; nothing here reads the log or folds events itself. Pages
live at ``/``, ``/executions/{id}``, ``/workflows``…; the fragments a page's script fetches
to stay live at ``/ui/…`` (an execution id can then never shadow one of them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from markupsafe import Markup, escape

from omium.gateway import stream
from omium.gateway.dashboard.render import page
from omium.gateway.dashboard.session import SessionDep, caller_of, local_path
from omium.gateway.dashboard.timeline import layout, svg
from omium.schemas import NotFound
from omium.services import dashboard, history, runs

router = APIRouter(include_in_schema=False)

#: executions a page of the list shows
PAGE = 25

Text = Annotated[str | None, Query(max_length=200)]


async def _listing(
    request: Request,
    session: SessionDep,
    status: str | None,
    workflow: str | None,
    since: str | None,
    until: str | None,
    cursor: str | None,
    full: bool,
) -> dict[str, object]:
    omium = session.omium
    found = await runs.page(
        omium,
        status=status or None,
        workflow=workflow or None,
        since=history.parse_time(since, "since") if since else None,
        until=history.parse_time(until, "until") if until else None,
        limit=PAGE,
        cursor=cursor or None,
    )
    context: dict[str, object] = {
        "page": found,
        "counts": await request.app.state.status_counts.counts(omium),
        "filters": {"status": status, "workflow": workflow, "since": since, "until": until},
        "cursor": cursor,
    }
    if full:  # the filters' choices: the page has them, the refreshed rows do not
        context["statuses"] = sorted(runs.STATUSES)
        context["workflows"] = [name for name, _, _ in await dashboard.run_forms(omium)]
    return context


@router.get("/")
async def executions(
    request: Request,
    session: SessionDep,
    status: Text = None,
    workflow: Text = None,
    since: Text = None,
    until: Text = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    q: Text = None,
) -> Response:
    """The executions, newest first, live; ``q`` opens the execution with that id."""
    missing = None
    if q:
        try:
            await runs.view(session.omium, q.strip())
            return RedirectResponse(f"/executions/{q.strip()}", status_code=303)
        except NotFound:
            missing = q
    context = await _listing(request, session, status, workflow, since, until, cursor, True)
    return page(request, session, "executions.html", {**context, "missing": missing})


@router.get("/ui/rows")
async def rows(
    request: Request,
    session: SessionDep,
    status: Text = None,
    workflow: Text = None,
    since: Text = None,
    until: Text = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The list's rows and counts, for the list page to refresh itself with."""
    context = await _listing(request, session, status, workflow, since, until, cursor, False)
    return page(request, session, "_rows.html", context)


async def _execution(request: Request, session: SessionDep, execution_id: str) -> dict[str, object]:
    cache = request.app.state.execution_calls
    found, calls = await dashboard.execution(session.omium, execution_id, cache)
    by_attempt: dict[int, list[object]] = {}
    for ref in found.checkpoints:
        by_attempt.setdefault(ref.attempt, []).append(ref)
    current = [s for s in found.steps if s.attempt == found.attempt]
    facts = {
        "steps": len(current),
        "done": sum(s.status == "completed" for s in current),
        "step_ms": sum(s.duration_ms or 0 for s in found.steps),
    }
    timeline = layout(found, datetime.now(UTC), calls)
    return {
        "ex": found,
        "facts": facts,
        "timeline": timeline,
        "svg": svg(timeline),
        "options": _options([c.checkpoint_id for c in found.checkpoints]),
        "checkpoints": sorted(by_attempt.items()),
        "active": not _finished(found.status),
    }


def _options(ids: list[str]) -> dict[str, Markup]:
    """The diff form's two lists of checkpoints (the first, and the last, preselected)."""
    plain = [f"<option>{escape(i)}</option>" for i in ids]
    first = [f"<option selected>{escape(i)}</option>" for i in ids[:1]] + plain[1:]
    last = plain[:-1] + [f"<option selected>{escape(i)}</option>" for i in ids[-1:]]
    return {"first": Markup("".join(first)), "last": Markup("".join(last))}


def _finished(status: str) -> bool:
    return status in ("completed", "failed", "cancelled", "timed_out")


@router.get("/executions/{execution_id}")
async def execution(request: Request, session: SessionDep, execution_id: str) -> Response:
    """One execution: header, timeline, checkpoints, events, actions."""
    context = await _execution(request, session, execution_id)
    return page(request, session, "execution.html", context)


@router.get("/ui/executions/{execution_id}/live")
async def live(request: Request, session: SessionDep, execution_id: str) -> Response:
    """The execution page's live parts (header, actions, timeline, checkpoints)."""
    context = await _execution(request, session, execution_id)
    return page(request, session, "_live.html", context)


@router.get("/ui/executions/{execution_id}/stream", response_class=StreamingResponse)
async def events(
    request: Request,
    session: SessionDep,
    execution_id: str,
    after: Annotated[str, Query(pattern=r"^[0-9]*$", max_length=20)] = "",
    last_event_id: Annotated[str, Header(pattern=r"^[0-9]*$", max_length=20)] = "",
) -> StreamingResponse:
    """The API's event stream (SSE) for the session's caller; ``after``: an offset."""
    return await stream.stream(session.omium, request, execution_id, last_event_id or after)


@router.get("/ui/executions/{execution_id}/checkpoints/{checkpoint_id}")
async def checkpoint(
    request: Request, session: SessionDep, execution_id: str, checkpoint_id: str
) -> Response:
    """A checkpoint's state as a JSON tree, and the form to roll back to it."""
    found = await dashboard.checkpoint(session.omium, execution_id, checkpoint_id)
    context = {"cp": found, "execution_id": execution_id, "keys": sorted(found.state or {})}
    return page(request, session, "_checkpoint.html", context)


@router.get("/ui/executions/{execution_id}/diff")
async def diff(
    request: Request,
    session: SessionDep,
    execution_id: str,
    a: Annotated[str, Query(min_length=1)],
    b: Annotated[str, Query(min_length=1)],
) -> Response:
    """What changed from checkpoint ``a`` to ``b`` (``omium diff``)."""
    found = await history.diff(session.omium, execution_id, a, b)
    return page(request, session, "_diff.html", {"diff": found, "a": a, "b": b})


@router.get("/workflows")
async def workflows(request: Request, session: SessionDep) -> Response:
    """Registered workflows, with a run form for each."""
    return page(
        request, session, "workflows.html", {"forms": await dashboard.run_forms(session.omium)}
    )


@router.get("/login")
async def login(request: Request, next: Text = None) -> Response:
    """The API-key form (a keyless gateway has nothing to log in to: straight to the list)."""
    caller, keyless = await caller_of(request)
    if keyless:
        return RedirectResponse("/", status_code=303)
    return page(request, None, "login.html", {"next": local_path(next), "error": None})
