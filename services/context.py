"""One bootstrap for every entry point: settings → the log and the view reader.

The CLI opens an :class:`Omium` per command, the gateway one per process (on start-up,
never at import). Every use case in :mod:`omium.services` takes it as its first argument,
so how the log and the reader are opened — and closed — is written once, here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from omium.processors.changelog import ChangelogReader
from omium.processors.reader import EmbeddedReader, ProjectionReader, open_reader
from omium.processors.tailed import TailedReader
from omium.producers import EventLog, Settings, Tailing, open_log
from omium.projections.workflows import WorkflowVersion
from omium.schemas import ROLES
from omium.services.refreshed import Refreshed
from omium.services.throttled import ThrottledReader

#: the workflow registry as read: every registered workflow's versions, oldest first
Versions = dict[str, list[WorkflowVersion]]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the tenant every read and command is scoped to, and the key's role."""

    tenant: str
    role: str
    key_id: str | None = None

    def may(self, role: str) -> bool:
        """Whether this caller's role includes ``role``'s rights."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass
class Omium:
    """What the use cases work on: the log (the truth) and the reader (the views).

    The reader is opened on first use: a command that only appends or reads the log
    (``run``, ``log read``, ``tail``) never touches the view store.

    ``caller`` scopes them to one tenant (the gateway sets it per request from the API
    key): another tenant's execution is then exactly as absent as one that does not exist.
    None — the CLI, which holds the log itself — sees every tenant.
    """

    log: EventLog
    settings: Settings = field(default_factory=Settings.load)
    caller: Caller | None = None
    #: how old a view read may be (s) on the embedded log; 0: caught up on every read
    #: (the gateway, under many reads a second, lets one catch-up serve a few ms of them)
    fresh_within: float = 0.0
    #: the gateway's copy of the workflow registry, shared by every scoped copy (see
    #: ``omium.services.registry.keep_copy``); None: the registry topic is read on every
    #: use (the CLI: one command a process)
    registry: Refreshed[Versions] | None = None
    #: shared by every scoped copy (``as_caller``), so the reader is opened once
    _readers: list[ProjectionReader] = field(default_factory=list)

    @classmethod
    def over(cls, log: EventLog, settings: Settings | None = None) -> Omium:
        """Use cases over an open ``log`` (the reader that fits it opens when first read)."""
        return cls(log, settings or Settings.load())

    @property
    def reader(self) -> ProjectionReader:
        """The views, through the reader that fits the log (opened now if not yet)."""
        if not self._readers:
            reader = open_reader(self.log)
            if self.fresh_within > 0 and isinstance(reader, EmbeddedReader):
                reader = ThrottledReader(reader, self.log, self.fresh_within)
            elif (
                self.fresh_within > 0
                and isinstance(reader, ChangelogReader)
                and isinstance(self.log, Tailing)
            ):
                reader = TailedReader(reader, self.log, self.fresh_within)
            self._readers.append(reader)
        return self._readers[0]

    def as_caller(self, caller: Caller) -> Omium:
        """The same log and reader, scoped to ``caller``."""
        return replace(self, caller=caller)

    @property
    def tenant(self) -> str:
        """The tenant commands and events of this context are stamped with."""
        return self.caller.tenant if self.caller is not None else self.settings.tenant_id

    def sees(self, tenant: str) -> bool:
        """Whether this context may see data of ``tenant``."""
        return self.caller is None or self.caller.tenant == tenant

    async def close(self) -> None:
        """Close the reader (if it was opened), then the log."""
        try:
            for reader in self._readers:
                await reader.close()
        finally:
            await self.log.close()


@asynccontextmanager
async def bootstrap(
    url: str | None = None, settings: Settings | None = None, *, fresh_within: float = 0.0
) -> AsyncIterator[Omium]:
    """Open the log ``url`` (default: ``OMIUM_LOG_URL``) and its reader; close both after.

    ``fresh_within``: see :attr:`Omium.fresh_within`.
    """
    settings = settings or Settings.load()
    app = Omium(open_log(url, settings), settings, fresh_within=fresh_within)
    try:
        yield app
    finally:
        await app.close()
