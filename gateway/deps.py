"""What routes ask FastAPI for: the use cases' context, scoped to the caller's tenant.

Every ``/api/v1`` route depends on :func:`get_omium`: with API keys configured it wants
``Authorization: Bearer <key>`` and scopes the context to that key's tenant (a client can
never choose its tenant); with none, the gateway serves tenant ``default`` on loopback.
:func:`needs` adds a role check; every key has a token bucket (:class:`RateLimits`).
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from omium.gateway.errors import Denied
from omium.services import Omium
from omium.services.context import Caller
from omium.services.keys import LOCAL, Keys

bearer = HTTPBearer(auto_error=False, description="An API key (`omium keys create`).")


class RateLimits:
    """A token bucket per key: ``rate`` requests a second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, key: str) -> float:
        """Take a token for ``key``: 0 if one was there, else the seconds until there is."""
        now = time.monotonic()
        tokens, then = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        return 0.0


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """Who asks: the key's tenant and role (``LOCAL`` when no key is configured)."""
    keys: Keys = request.app.state.keys
    if not await keys.any_active():
        caller = LOCAL
    else:
        if credentials is None:
            raise Denied(401, "unauthorized", "an API key is needed: Authorization: Bearer <key>")
        found = await keys.caller(credentials.credentials)
        if found is None:
            raise Denied(401, "unauthorized", "this API key is unknown or revoked")
        caller = found
    limits: RateLimits = request.app.state.limits
    wait = limits.wait(caller.key_id or "local")
    if wait > 0:
        raise Denied(
            429,
            "rate-limited",
            f"over {limits.rate:g} requests a second for this key; retry in {wait:.2f} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


# the dependencies are coroutines, sync ones would each cost a hop to a worker thread
async def get_omium(request: Request, caller: CallerDep) -> Omium:
    """The use cases' context, opened once when the app started, scoped to the caller."""
    omium: Omium = request.app.state.omium
    return omium.as_caller(caller)


OmiumDep = Annotated[Omium, Depends(get_omium)]


async def get_unscoped(request: Request) -> Omium:
    """The context without a caller, for the operations routes (health, metrics)."""
    omium: Omium = request.app.state.omium
    return omium


UnscopedDep = Annotated[Omium, Depends(get_unscoped)]


def needs(role: str) -> Any:
    """A dependency refusing (403) callers whose role lacks ``role``'s rights."""

    async def check(caller: CallerDep) -> None:
        if not caller.may(role):
            raise Denied(403, "forbidden", f"a {caller.role} key cannot do this; it needs {role}")

    return Depends(check)
