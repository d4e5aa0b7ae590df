"""One bootstrap for every entry point: settings → the log and the view reader.

The CLI opens an :class:`Omium` per command, the gateway one per process (on start-up,
never at import). Every use case in :mod:`omium.services` takes it as its first argument,
so how the log and the reader are opened — and closed — is written once, here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from omium.processors.reader import ProjectionReader, open_reader
from omium.producers import EventLog, Settings, open_log


@dataclass
class Omium:
    """What the use cases work on: the log (the truth) and the reader (the views)."""

    log: EventLog
    reader: ProjectionReader
    settings: Settings = field(default_factory=Settings.load)

    @classmethod
    def over(cls, log: EventLog, settings: Settings | None = None) -> Omium:
        """Use cases over an open ``log``, with the reader that fits it."""
        return cls(log, open_reader(log), settings or Settings.load())

    async def close(self) -> None:
        """Close the reader, then the log."""
        try:
            await self.reader.close()
        finally:
            await self.log.close()


@asynccontextmanager
async def bootstrap(
    url: str | None = None, settings: Settings | None = None
) -> AsyncIterator[Omium]:
    """Open the log ``url`` (default: ``OMIUM_LOG_URL``) and its reader; close both after."""
    settings = settings or Settings.load()
    log = open_log(url, settings)
    try:
        app = Omium.over(log, settings)
    except BaseException:
        await log.close()
        raise
    try:
        yield app
    finally:
        await app.close()
