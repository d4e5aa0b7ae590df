"""The analytics store: one small interface over clickhouse-connect, for a server or chDB.

``OMIUM_ANALYTICS_URL`` picks the place: ``http(s)://user:password@host:8123/database`` is a
ClickHouse server; ``chdb:///path`` (the default, ``$OMIUM_HOME/analytics``) is
clickhouse-connect's own chDB mode, the ClickHouse engine in this process. Same client, same
DDL, same SQL.

chDB lets one process at a time open a data folder. :class:`AnalyticsPlace` hides that: every
use of the store is a :meth:`~AnalyticsPlace.session`, which on chDB takes an exclusive lock
file beside the folder, opens the engine, and closes it again at the end, so a worker's sink
holds the folder only while it writes a batch, and any ``omium analytics`` command can take
its turn in between. A server needs no lock and keeps one client.

Rows go in column-oriented (:meth:`AnalyticsStore.insert`): with pandas importable in the
process (chDB imports it) it was the fastest path measured here (see ``docs/analytics.md``).
"""

from __future__ import annotations

import asyncio
import fcntl
import importlib.util
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from omium.producers import Settings
from omium.schemas import AnalyticsUnavailable, ConfigError, InvalidQuery

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

#: URL schemes clickhouse-connect speaks
SCHEMES = ("chdb", "http", "https")


class AnalyticsStore(Protocol):
    """What omium asks of a ClickHouse: statements, queries, and column-oriented inserts."""

    url: str
    #: whether the store is chDB in this process (no ``readonly`` setting to lean on)
    embedded: bool

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, DELETE)."""
        ...

    def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of a query (``{name:Type}`` placeholders bound server-side)."""
        ...

    def insert(self, table: str, columns: Mapping[str, Sequence[Any]], token: str) -> None:
        """Insert rows given as columns; a second insert with the same ``token`` is dropped."""
        ...

    def close(self) -> None:
        """Release the connection (on chDB: the data folder). Safe to call twice."""
        ...


class ClickHouseStore:
    """:class:`AnalyticsStore` on a clickhouse-connect client (server or chDB)."""

    def __init__(self, client: Client, url: str, *, embedded: bool) -> None:
        self.client = client
        self.url = url
        self.embedded = embedded
        #: table -> column -> type name: without them every insert asks the engine first
        self._types: dict[str, dict[str, str]] = {}

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        """See :class:`AnalyticsStore`."""
        self._types.clear()  # a statement may have changed a table
        with _errors(self.url):
            self.client.command(sql, parameters=dict(parameters or {}))

    def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """See :class:`AnalyticsStore`."""
        with _errors(self.url):
            result = self.client.query(
                sql, parameters=dict(parameters or {}), settings=dict(settings or {})
            )
            return list(result.column_names), [tuple(r) for r in result.result_rows]

    def insert(self, table: str, columns: Mapping[str, Sequence[Any]], token: str) -> None:
        """See :class:`AnalyticsStore`."""
        names = list(columns)
        if not names or not len(columns[names[0]]):
            return
        with _errors(self.url):
            types = self._types.get(table)
            if types is None:
                described = self.client.query(f"DESCRIBE TABLE {table}").result_rows
                types = self._types[table] = {str(r[0]): str(r[1]) for r in described}
            self.client.insert(
                table,
                [_listed(columns[n]) for n in names],
                column_names=names,
                column_type_names=[types[n] for n in names],
                column_oriented=True,
                settings={
                    "insert_deduplication_token": token,
                    # without it a deduplicated insert still feeds the rollups' views
                    "deduplicate_blocks_in_dependent_materialized_views": 1,
                },
            )

    def close(self) -> None:
        """See :class:`AnalyticsStore`."""
        self.client.close()


class _errors:
    """Turn the client's errors into omium's: the engine refusing SQL is the caller's error."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError

        if isinstance(exc, DatabaseError):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidQuery(first[:500]) from None
        if isinstance(exc, ClickHouseError):
            raise AnalyticsUnavailable(f"analytics store {self.url}: {exc}") from None


class AnalyticsPlace:
    """Where the analytics live; hands out sessions on the store (see the module docs)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ConfigError(
                f"OMIUM_ANALYTICS_URL {url!r}: not a ClickHouse URL",
                hint="use chdb:///path or http(s)://user:password@host:8123/database",
            )
        if importlib.util.find_spec("clickhouse_connect") is None:
            raise ConfigError(
                "analytics need clickhouse-connect and chDB",
                hint="pip install 'omium[analytics]'",
            )
        self.url = url
        self.embedded = parts.scheme == "chdb"
        self.path = Path(parts.path) if self.embedded else None
        self._server: ClickHouseStore | None = None
        self._turn = asyncio.Lock()

    def exists(self) -> bool:
        """Whether the store was made (an embedded folder exists; a server always does)."""
        return self.path is None or self.path.exists()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AnalyticsStore]:
        """The store, exclusively for this block on chDB (other processes wait their turn)."""
        if self.path is None:
            if self._server is None:
                self._server = await asyncio.to_thread(self._connect)
            yield self._server
            return
        async with self._turn:
            lock = await asyncio.to_thread(self._lock, self.path)
            try:
                store = await asyncio.to_thread(self._connect)
                try:
                    yield store
                finally:
                    await asyncio.to_thread(store.close)
            finally:
                os.close(lock)  # releases the flock

    def _lock(self, path: Path) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # chDB fails at once on a held folder: wait here
        return fd

    def _connect(self) -> ClickHouseStore:
        # imported when a store is opened: the optional client costs every `omium` command
        # 0.2-0.4 s of import time otherwise (the Kafka driver is imported the same way)
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import ClickHouseError

        try:
            client = clickhouse_connect.get_client(dsn=self.url, tz_mode="aware")
        except ClickHouseError as exc:
            raise AnalyticsUnavailable(
                f"cannot open the analytics store {self.url}: {exc}".splitlines()[0]
            ) from None
        return ClickHouseStore(client, self.url, embedded=self.embedded)

    def close(self) -> None:
        """Close a server client; embedded sessions close themselves. Safe to call twice."""
        if self._server is not None:
            self._server.close()
            self._server = None


def analytics_url(settings: Settings) -> str:
    """``OMIUM_ANALYTICS_URL``, or the embedded store under ``$OMIUM_HOME/analytics``."""
    return settings.analytics_url or f"chdb://{(settings.home / 'analytics').resolve()}"


def open_place(settings: Settings | None = None, url: str | None = None) -> AnalyticsPlace:
    """The analytics place for ``url`` (default: from the settings)."""
    return AnalyticsPlace(url or analytics_url(settings or Settings.load()))


def _listed(column: Sequence[Any]) -> list[Any]:
    """``column`` as the list clickhouse-connect takes (a list is not copied)."""
    return column if isinstance(column, list) else list(column)
