"""The dashboard's forms (POST): log in and out, steer a run, roll back, submit.

Every form carries the CSRF token (:func:`~omium.gateway.dashboard.session.checked_form`);
every action but logging in also needs an operator (or admin) key, checked here whatever
the page showed. Each calls the use case the JSON API calls. The page's script posts with
``Accept: application/json`` and gets ``{"ok", "message", "location"}``; without script a
form gets a redirect (303) to the page to look at next.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from omium.gateway.dashboard.render import done, page
from omium.gateway.dashboard.session import (
    SESSION,
    SessionDep,
    checked_form,
    local_path,
    set_cookie,
)
from omium.schemas import ConfigError
from omium.services import dashboard, history, registry, runs
from omium.services.keys import Keys

router = APIRouter(include_in_schema=False)

#: the rows of key/value edits a rollback form has
EDIT_ROWS = 3


@router.post("/login")
async def login(request: Request) -> Response:
    """Turn an API key into the session cookie; a wrong key shows the form again (401)."""
    form = await checked_form(request)
    keys: Keys = request.app.state.keys
    key = form.get("key", "").strip()
    target = local_path(form.get("next"))
    if not key or await keys.caller(key) is None:
        context = {"next": target, "error": "this API key is unknown or revoked"}
        return page(request, None, "login.html", context, status=401)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION, key)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Forget the session cookie."""
    await checked_form(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION, path="/")
    return response


def _value(text: str) -> Any:
    """A form value: JSON when it is JSON, else the text itself (as ``--set k=v``)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


@router.post("/executions/{execution_id}/{kind}")
async def steer(request: Request, session: SessionDep, execution_id: str, kind: str) -> Response:
    """``pause``, ``resume``, ``cancel``, or ``answer`` (resume with the posted ``answer``)."""
    form = await checked_form(request, session)
    if kind == "answer":
        answer = form.get("answer", "").strip()
        if not answer:
            raise ConfigError("the answer is empty", hint="type the answer the run asks for")
        await runs.steer(session.omium, execution_id, "resume", input=_value(answer))
    elif kind in runs.STEERING:
        await runs.steer(session.omium, execution_id, kind, reason=form.get("reason") or None)
    elif kind == "rollback":
        return await _rollback(request, session, execution_id, form)
    else:
        raise ConfigError(f"{kind!r} is not an action", hint="pause, resume, cancel, answer")
    verb = {"answer": "answered"}.get(kind, f"{kind}d" if kind.endswith("e") else f"{kind}ed")
    return done(request, f"/executions/{execution_id}", f"{execution_id} {verb}")


async def _rollback(
    request: Request, session: SessionDep, execution_id: str, form: dict[str, str]
) -> Response:
    """Roll back to the posted checkpoint, with the edit rows (checked against its state)."""
    checkpoint_id = form.get("checkpoint", "")
    found = await dashboard.checkpoint(session.omium, execution_id, checkpoint_id)
    state = found.state or {}
    changed: dict[str, Any] = {}
    added: dict[str, Any] = {}
    for i in range(EDIT_ROWS):
        key = form.get(f"key-{i}", "").strip()
        if not key:
            continue
        if key not in state:
            known = ", ".join(sorted(state)) or "none"
            raise ConfigError(
                f"{key!r} is not a key of checkpoint {checkpoint_id}'s state (it has: {known})",
                hint="add a new key in the 'new key' row",
            )
        changed[key] = _value(form.get(f"value-{i}", ""))
    new_key = form.get("new-key", "").strip()
    if new_key:
        added[new_key] = _value(form.get("new-value", ""))
    out = await history.rollback(session.omium, execution_id, checkpoint_id, changed, added=added)
    return done(
        request,
        f"/executions/{execution_id}",
        f"rolled back to {checkpoint_id}: attempt {out.attempt} requested",
    )


@router.post("/workflows/run")
async def run(request: Request, session: SessionDep) -> Response:
    """Submit a run of a registered workflow with the posted inputs; open its page."""
    form = await checked_form(request, session)
    text = form.get("inputs", "").strip() or "{}"
    try:
        inputs = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"inputs: not JSON ({exc})", hint='e.g. {"total": 3}') from None
    if not isinstance(inputs, dict):
        raise ConfigError("inputs: expected a JSON object", hint='e.g. {"total": 3}')
    submitted = await registry.submit_named(
        session.omium,
        form.get("workflow", ""),
        inputs,
        execution_id=form.get("execution_id", "").strip() or None,
    )
    where = f"/executions/{submitted.execution_id}"
    return done(request, where, f"submitted {submitted.execution_id}")
