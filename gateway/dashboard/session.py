"""Who looks at the dashboard: the session cookie, the CSRF token, the role.

A browser cannot send ``Authorization: Bearer``, so the login form turns an API key into
the ``omium_session`` cookie (HttpOnly: no script reads it; SameSite=Strict: no other site's
page sends it; Secure over HTTPS). The cookie holds the key itself and every request
checks it again through :class:`~omium.services.keys.Keys`, so a revoked key stops working
in the dashboard as fast as in the API, and replicas share no session store.

Every state-changing form carries ``csrf``, which must equal the ``omium_csrf`` cookie (a
double-submit token: a page of another origin can neither read the cookie nor, under
SameSite=Strict, have it sent). With no API key configured the gateway is loopback-only
and the dashboard opens directly as tenant ``default``, CSRF checks still on.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from omium.services import Omium
from omium.services.context import Caller
from omium.services.keys import LOCAL, Keys

SESSION = "omium_session"
CSRF = "omium_csrf"


class LoginNeeded(Exception):  # noqa: N818 - an answer (the login page), not a failure
    """No valid session: a page redirects to the login form, a POST is refused (401)."""


class Refused(Exception):  # noqa: N818 - an answer, not a failure
    """The dashboard refuses a request (403: no CSRF token, or a role without the right)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class Session:
    """A dashboard request's caller, its scoped use cases and its CSRF token."""

    caller: Caller
    omium: Omium
    csrf: str
    #: the CSRF cookie is new: the response must set it
    fresh_csrf: bool
    #: no API key is configured (loopback, tenant ``default``): no login, no logout
    keyless: bool

    @property
    def steers(self) -> bool:
        """Whether this caller may pause, resume, cancel, roll back and submit."""
        return self.caller.may("operator")


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """An HttpOnly, SameSite=Strict cookie for the whole dashboard (Secure over HTTPS)."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def csrf_of(request: Request) -> tuple[str, bool]:
    """The request's CSRF token, and whether it is new (no cookie came with the request)."""
    token = request.cookies.get(CSRF)
    if token:
        return token, False
    return secrets.token_urlsafe(24), True


async def caller_of(request: Request) -> tuple[Caller | None, bool]:
    """Who the session cookie names (None: nobody), and whether the gateway is keyless."""
    keys: Keys = request.app.state.keys
    if not await keys.any_active():
        return LOCAL, True
    key = request.cookies.get(SESSION)
    return (await keys.caller(key) if key else None), False


async def get_session(request: Request) -> Session:
    """The dashboard's caller; :class:`LoginNeeded` when there is none."""
    caller, keyless = await caller_of(request)
    if caller is None:
        raise LoginNeeded()
    token, fresh = csrf_of(request)
    omium: Omium = request.app.state.omium
    return Session(caller, omium.as_caller(caller), token, fresh, keyless)


SessionDep = Annotated[Session, Depends(get_session)]


async def checked_form(request: Request, session: Session | None = None) -> dict[str, str]:
    """The posted form, once its CSRF token matched the cookie's (else :class:`Refused`).

    With ``session``, the caller must also be allowed to steer runs.
    """
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    cookie = request.cookies.get(CSRF, "")
    posted = fields.get("csrf", "")
    if not cookie or not posted or not hmac.compare_digest(cookie, posted):
        raise Refused(403, "this form has no valid CSRF token; reload the page and try again")
    if session is not None and not session.steers:
        raise Refused(403, f"a {session.caller.role} key cannot do this; it needs operator")
    return fields


def local_path(target: str | None) -> str:
    """Only a path of this site to go to after login (never another origin)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target
