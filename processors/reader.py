"""The ``ProjectionReader`` port: how the CLI and the gateway read views, whatever the runtime.

- Embedded log: :class:`EmbeddedReader` catches the view store up with the log before it
  answers (a few indexed reads when nothing is new), so any process reads current views
  whether or not a worker runs.
- Kafka: :class:`~omium.processors.changelog.ChangelogReader` reads the faust tables'
  changelog topics, so any process with access to the cluster answers for any execution.

:func:`open_reader` picks the reader by the log URL's scheme through :data:`READERS`, a
plain dict like the log drivers (``omium.producers.DRIVERS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

from omium.processors.changelog import ChangelogReader
from omium.processors.listing import Listing
from omium.processors.projector import Projector
from omium.processors.view_store import SqliteViews, views_beside
from omium.producers import EventLog
from omium.projections import ExecutionView
from omium.schemas import ConfigError


class ProjectionReader(Protocol):
    """Reads execution views kept by the projection processors."""

    async def execution(self, execution_id: str) -> ExecutionView | None:
        """One execution's view (checkpoint snapshots left out), or None if unknown."""
        ...

    async def executions(self, status: str | None = None) -> list[ExecutionView]:
        """Every execution's view (of one status), oldest submission first."""
        ...

    async def newest(self, listing: Listing) -> list[ExecutionView]:
        """The views ``listing`` selects, newest submission first, at most ``listing.limit``.

        Reads what the newest ones need, not the whole history (see
        :mod:`~omium.processors.listing`).
        """
        ...

    async def close(self) -> None:
        """Release what the reader holds."""
        ...


class EmbeddedReader:
    """Views from the embedded store, caught up with the log on every read."""

    def __init__(self, log: EventLog, store: SqliteViews) -> None:
        self.store = store
        self.projector = Projector(log, store)

    async def execution(self, execution_id: str) -> ExecutionView | None:
        """See :class:`ProjectionReader`."""
        await self.projector.catch_up()
        return self.store.get(execution_id)

    async def executions(self, status: str | None = None) -> list[ExecutionView]:
        """See :class:`ProjectionReader`."""
        await self.projector.catch_up()
        return self.store.all(status)

    async def newest(self, listing: Listing) -> list[ExecutionView]:
        """See :class:`ProjectionReader`."""
        await self.projector.catch_up()
        return self.store.newest(listing)

    async def close(self) -> None:
        """See :class:`ProjectionReader`."""
        self.store.close()


def _embedded(log: EventLog) -> ProjectionReader:
    return EmbeddedReader(log, views_beside(log))


def _changelog(log: EventLog) -> ProjectionReader:
    return ChangelogReader(log)


#: log URL scheme -> the reader that fits: the faust tables on Kafka, the view store otherwise.
READERS: dict[str, Callable[[EventLog], ProjectionReader]] = {
    "sqlite": _embedded,
    "kafka": _changelog,
}


def open_reader(log: EventLog) -> ProjectionReader:
    """The reader that fits ``log``, chosen by its URL's scheme (see :data:`READERS`)."""
    scheme = urlsplit(log.url).scheme
    builder = READERS.get(scheme)
    if builder is None:
        raise ConfigError(
            f"no projection reader for {log.url!r}",
            hint=f"readers exist for: {', '.join(f'{s}://' for s in READERS)}",
        )
    return builder(log)
