"""API keys as a fold of ``apikey.*`` records (pure): who a key is, and whether it still opens."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from omium.schemas import ApiKeyCreated, ApiKeyRevoked, Event


@dataclass(frozen=True, slots=True)
class KeyState:
    """One API key: its tenant and role, its hash, and when it was revoked (if it was)."""

    key_id: str
    name: str
    tenant: str
    role: str
    sha256: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the key still opens the API."""
        return self.revoked_at is None


def keys(records: Iterable[Event]) -> dict[str, KeyState]:
    """key_id -> its state, from the registry's records in log order (others ignored)."""
    out: dict[str, KeyState] = {}
    for record in records:
        if isinstance(record, ApiKeyCreated) and record.payload.key_id not in out:
            p = record.payload
            out[p.key_id] = KeyState(
                p.key_id, p.name, record.tenant_id, p.role, p.sha256, record.ts
            )
        elif isinstance(record, ApiKeyRevoked):
            found = out.get(record.payload.key_id)
            if found is not None and found.active:
                out[found.key_id] = replace(found, revoked_at=record.ts)
    return out
