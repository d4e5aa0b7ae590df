"""Where the embedded runtime keeps its projections: one SQLite file beside the log.

Three tables: ``views`` (one row per execution, the stored form of its view, with its status,
submission time and tenant beside it for the indexes that list and count), ``applied``
(per partition of ``omium.events``, the next offset to fold) and ``applied_commands`` (the
same for ``omium.commands``, whose ``run`` commands make ``queued`` views). A batch of folded
views and the offsets they reach are written in one transaction, so a crash never leaves
views ahead of, or behind, the offsets that produced them. WAL mode: readers in other
processes see the last committed batch while a projector writes the next.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import orjson

from omium.processors.listing import Listing, decode_listed, decode_view
from omium.producers import EventLog, LocalFile
from omium.projections import ExecutionView, view_from_dict, view_to_dict
from omium.schemas import LogUnavailable
from omium.schemas.topics import COMMANDS, EVENTS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS views (
    execution_id TEXT PRIMARY KEY, status TEXT NOT NULL, submitted TEXT, body BLOB NOT NULL,
    tenant TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS views_newest ON views (submitted, execution_id);
CREATE TABLE IF NOT EXISTS applied (
    partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS applied_commands (
    partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL
);
"""

#: a store made before views carried their tenant in a column gains it once, filled from the
#: bodies; then an index counts a tenant's views by status without reading them
_TENANT = (
    "ALTER TABLE views ADD COLUMN tenant TEXT",
    "UPDATE views SET tenant = coalesce(json_extract(CAST(body AS TEXT), '$.tenant_id'), "
    "'default')",
)
_COUNTS = "CREATE INDEX IF NOT EXISTS views_counts ON views (tenant, status)"

#: topic -> the table of its applied offsets (a store made before commands were folded
#: gains its table on open, and folds the commands from their start once: idempotent)
_APPLIED = {EVENTS.name: "applied", COMMANDS.name: "applied_commands"}


def store_path_for(log_path: str, kind: str = "views") -> str:
    """A store beside an embedded log file (``log.db`` -> ``log.<kind>.db``)."""
    if log_path == ":memory:":
        return ":memory:"
    path = Path(log_path)
    return str(path.with_name(f"{path.stem}.{kind}.db"))


def path_beside(log: EventLog, kind: str) -> str:
    """Where a store of ``kind`` beside ``log``'s file lives (in memory without a file)."""
    return store_path_for(log.path if isinstance(log, LocalFile) else ":memory:", kind)


def open_store(path: str, schema: str, what: str, busy_timeout: float) -> sqlite3.Connection:
    """A SQLite store beside an embedded log (WAL, autocommit), its ``schema`` applied."""
    try:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except (sqlite3.Error, OSError) as exc:
        raise LogUnavailable(
            f"cannot open the {what} {path!r}: {exc}",
            hint="check that the folder of the embedded log is writable",
        ) from None
    return db


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on ``db``; other processes' writers wait for it."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def views_beside(log: EventLog) -> SqliteViews:
    """The view store beside ``log``'s file (in memory for a log without one)."""
    return SqliteViews(path_beside(log, "views"))


class SqliteViews:
    """Execution views and the offsets they were folded up to."""

    def __init__(self, path: str, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._db = open_store(path, _SCHEMA, "view store", busy_timeout)
        if not self._has_tenant():
            with write_transaction(self._db):  # another process may have just added it
                if not self._has_tenant():
                    for statement in _TENANT:
                        self._db.execute(statement)
        self._db.execute(_COUNTS)

    def _has_tenant(self) -> bool:
        return any(row[1] == "tenant" for row in self._db.execute("PRAGMA table_info(views)"))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; other processes' projectors wait for it."""
        with write_transaction(self._db):
            yield

    def applied(self, topic: str = EVENTS.name) -> dict[int, int]:
        """Per partition of ``topic``, the next offset to fold."""
        sql = f"SELECT partition, next_offset FROM {_APPLIED[topic]}"
        return dict(self._db.execute(sql).fetchall())

    def get(self, execution_id: str) -> ExecutionView | None:
        """One execution's view, or None."""
        row = self._db.execute(
            "SELECT body FROM views WHERE execution_id = ?", (execution_id,)
        ).fetchone()
        return view_from_dict(orjson.loads(row[0])) if row else None

    def all(self, status: str | None = None) -> list[ExecutionView]:
        """Every view (of one status), oldest submission first."""
        sql = "SELECT body FROM views"
        args: tuple[str, ...] = ()
        if status is not None:
            sql, args = sql + " WHERE status = ?", (status,)
        rows = self._db.execute(sql + " ORDER BY submitted, execution_id", args).fetchall()
        return [view_from_dict(orjson.loads(body)) for (body,) in rows]

    def counts(self, tenant: str | None = None) -> dict[str, int]:
        """How many views have each status (of ``tenant``'s, else all): an index read."""
        sql = "SELECT status, count(*) FROM views"
        args: tuple[str, ...] = ()
        if tenant is not None:
            sql, args = sql + " WHERE tenant = ?", (tenant,)
        return dict(self._db.execute(sql + " GROUP BY status", args).fetchall())

    def newest(self, listing: Listing) -> list[ExecutionView]:
        """The views ``listing`` selects, newest submission first (through ``views_newest``)."""
        # views without a submission time (an older omium's) sort as the newest
        unsorted = self._db.execute(
            "SELECT body FROM views WHERE submitted IS NULL ORDER BY execution_id DESC"
        )
        where, args = ["submitted IS NOT NULL"], []
        if listing.before is not None:
            where.append("(submitted, execution_id) < (?, ?)")
            args += [listing.before[0].isoformat(), listing.before[1]]
        if listing.since is not None:
            where.append("submitted >= ?")
            args.append(listing.since.isoformat())
        if listing.status is not None:
            where.append("status = ?")
            args.append(listing.status)
        older = self._db.execute(
            f"SELECT body FROM views WHERE {' AND '.join(where)}"
            " ORDER BY submitted DESC, execution_id DESC",
            args,
        )
        page: list[ExecutionView] = []
        for rows in (unsorted, older):
            for (body,) in rows:
                listed = decode_listed(body)
                if listed is not None and listing.admits(listed[0]):
                    page.append(decode_view(body))
                    if len(page) == listing.limit:
                        return page
        return page

    def save(
        self,
        views: Mapping[str, ExecutionView],
        applied: Mapping[int, int],
        topic: str = EVENTS.name,
    ) -> None:
        """Write views and the offsets of ``topic`` they reach (inside :meth:`transaction`)."""
        self._db.executemany(
            "INSERT OR REPLACE INTO views (execution_id, status, submitted, body, tenant) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (
                    execution_id,
                    view.status,
                    view.submitted_at.isoformat() if view.submitted_at else None,
                    orjson.dumps(view_to_dict(view)),
                    view.tenant_id,
                )
                for execution_id, view in views.items()
            ],
        )
        self._db.executemany(
            f"INSERT OR REPLACE INTO {_APPLIED[topic]} VALUES (?, ?)",
            sorted(applied.items()),
        )

    def clear(self) -> None:
        """Forget every view and offset (call inside :meth:`transaction`)."""
        self._db.execute("DELETE FROM views")
        for table in _APPLIED.values():
            self._db.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        """Close the connection. Safe to call twice."""
        self._db.close()
