"""API keys and tenants: issue, list and revoke keys; authenticate a request's key.

A key is ``om_<key_id>_<secret>`` with 256 random bits of secret. Only its SHA-256 is
recorded (``apikey.created`` on ``omium.registry``), so every gateway replica knows every
key and a revocation reaches them all: :class:`Keys` re-reads the registry in the
background once its copy is older than :data:`FRESH_S`, and never answers from a copy older
than :data:`MAX_AGE_S` (see :mod:`omium.services.refreshed`), so a revoked key stops working
within a second.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from omium.projections.keys import KeyState, keys
from omium.schemas import ROLES, ConfigError, NotFound, from_dict
from omium.schemas.registered import apikey_key
from omium.schemas.topics import REGISTRY
from omium.services.context import Caller, Omium
from omium.services.models import KeyCreated, KeyOut
from omium.services.refreshed import Refreshed

#: the age of the gateway's copy of the keys past which it is read again in the background
FRESH_S = 0.25
#: the oldest copy a request is answered from (a revocation takes effect within it)
MAX_AGE_S = 0.75

#: what each role may do, in order: a role may do what the ones before it may
READ, STEER, MANAGE = ROLES


#: the caller when no key is configured (loopback only): one tenant, every right
LOCAL = Caller(tenant="default", role=MANAGE)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _out(state: KeyState) -> KeyOut:
    return KeyOut(
        key_id=state.key_id,
        name=state.name,
        tenant=state.tenant,
        role=state.role,
        created_at=state.created_at,
        revoked_at=state.revoked_at,
    )


async def _states(app: Omium) -> dict[str, KeyState]:
    return keys(r.event() for r in await app.log.read(REGISTRY.name, 0))


async def create(app: Omium, *, tenant: str, name: str, role: str) -> KeyCreated:
    """Issue a key for ``tenant``; the key itself is in the answer and nowhere else."""
    if role not in ROLES:
        raise ConfigError(f"--role {role!r}: not a role", hint=f"use {', '.join(ROLES)}")
    key_id = secrets.token_hex(6)
    key = f"om_{key_id}_{secrets.token_urlsafe(32)}"
    await app.log.append(
        from_dict(
            {
                "type": "apikey.created",
                "execution_id": apikey_key(key_id),
                "tenant_id": tenant,
                "payload": {"key_id": key_id, "name": name, "role": role, "sha256": _digest(key)},
            }
        )
    )
    return KeyCreated(key=key, key_id=key_id, tenant=tenant, role=role, name=name)


async def listed(app: Omium) -> list[KeyOut]:
    """Every key ever issued (revoked ones too), oldest first — never a key or its hash."""
    return [_out(s) for s in (await _states(app)).values()]


async def revoke(app: Omium, key_id: str, reason: str | None = None) -> KeyOut:
    """Revoke a key (again: nothing changes)."""
    found = (await _states(app)).get(key_id)
    if found is None:
        raise NotFound(f"no API key {key_id!r}", hint="list them with `omium keys list`")
    if found.active:
        await app.log.append(
            from_dict(
                {
                    "type": "apikey.revoked",
                    "execution_id": apikey_key(key_id),
                    "tenant_id": found.tenant,
                    "payload": {"key_id": key_id, "reason": reason},
                }
            )
        )
        found = (await _states(app))[key_id]
    return _out(found)


class Keys:
    """The keys as a gateway replica sees them: at most :data:`MAX_AGE_S` old."""

    def __init__(self, app: Omium) -> None:
        self.app = app
        self._copy = Refreshed(lambda: _states(app), FRESH_S, MAX_AGE_S)

    async def _fresh(self) -> dict[str, KeyState]:
        return await self._copy.get()

    async def any_active(self) -> bool:
        """Whether any key is configured (then every request needs one)."""
        return any(s.active for s in (await self._fresh()).values())

    async def caller(self, key: str) -> Caller | None:
        """Who ``key`` is, or None when it is unknown, malformed or revoked."""
        parts = key.split("_")
        if len(parts) < 3 or parts[0] != "om":
            return None
        found = (await self._fresh()).get(parts[1])
        # compare digests in constant time: a timing difference must not tell how close
        if found is None or not hmac.compare_digest(found.sha256, _digest(key)):
            return None
        return Caller(found.tenant, found.role, found.key_id) if found.active else None
