"""Where the embedded alert evaluator keeps its state: one SQLite file beside the log.

Four tables. ``state`` holds the rules' state (one JSON row) and a version; ``applied``
the next offset to evaluate per partition of ``omium.events``; ``outbox`` every alert ever
raised or resolved, unique by ``(alert_id, action)``; ``alerts_end`` the end offsets of
``omium.alerts`` after the last outbox batch was appended.

A chunk's state, offsets and alerts are written in one transaction, so a crash never
leaves the state ahead of, or behind, the offsets that produced it. Re-evaluating after a
crash yields the same alert ids, and the outbox's unique key drops them: an alert is
appended to the log once. An outbox batch is appended to the log and marked appended in
one store transaction; if the process dies between the two, the next one finds the
batch's alerts among the records after ``alerts_end`` and marks them without appending
them again. Sinks get outbox rows the log has, each claimed for a lease and marked
delivered when every sink of the rule is done (at-least-once; receivers dedupe by id).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from omium.processors.view_store import open_store, path_beside, write_transaction
from omium.processors.view_store import store_path_for as views_path_for
from omium.producers import EventLog
from omium.projections.alerts import Alert, AlertState
from omium.schemas import encode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    id INTEGER PRIMARY KEY CHECK (id = 0), version INTEGER NOT NULL, body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS applied (
    partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL,
    action TEXT NOT NULL,
    rule TEXT NOT NULL,
    body BLOB NOT NULL,
    appended INTEGER NOT NULL DEFAULT 0,
    claimed_ms INTEGER,
    delivered INTEGER NOT NULL DEFAULT 0,
    UNIQUE (alert_id, action)
);
CREATE TABLE IF NOT EXISTS alerts_end (
    partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL
);
"""


def store_path_for(log_path: str) -> str:
    """The alert store beside an embedded log file (``log.db`` -> ``log.alerts.db``)."""
    return views_path_for(log_path, "alerts")


def alerts_beside(log: EventLog) -> AlertStore:
    """The alert store beside ``log``'s file (in memory for a log without one)."""
    return AlertStore(path_beside(log, "alerts"))


class AlertStore:
    """The evaluator's state, offsets and outbox (see the module docs)."""

    def __init__(self, path: str, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._db = open_store(path, _SCHEMA, "alert store", busy_timeout)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; other processes' evaluators wait for it."""
        with write_transaction(self._db):
            yield

    def version(self) -> int:
        """The version of the stored state (0: none yet); bumped by every :meth:`save`."""
        row = self._db.execute("SELECT version FROM state WHERE id = 0").fetchone()
        return int(row[0]) if row else 0

    def state(self) -> AlertState:
        """The stored state (a fresh one when none was stored)."""
        row = self._db.execute("SELECT body FROM state WHERE id = 0").fetchone()
        return AlertState.load(row[0] if row else None)

    def applied(self) -> dict[int, int]:
        """Per partition of ``omium.events``, the next offset to evaluate."""
        return dict(self._db.execute("SELECT partition, next_offset FROM applied").fetchall())

    def save(self, state: AlertState, applied: Mapping[int, int], alerts: Sequence[Alert]) -> int:
        """Write state, offsets and new alerts (inside :meth:`transaction`); the new version.

        An alert whose ``(alert_id, action)`` is in the outbox already is dropped.
        """
        version = self.version() + 1
        self._db.execute("INSERT OR REPLACE INTO state VALUES (0, ?, ?)", (version, state.dump()))
        self._db.executemany(
            "INSERT OR REPLACE INTO applied VALUES (?, ?)", sorted(applied.items())
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO outbox (alert_id, action, rule, body) VALUES (?, ?, ?, ?)",
            [(a.alert_id, a.action, a.rule, encode(a.event())) for a in alerts],
        )
        return version

    def unappended(self) -> list[tuple[int, bytes]]:
        """Outbox rows the log does not have yet, oldest first: ``(n, encoded event)``."""
        sql = "SELECT n, body FROM outbox WHERE appended = 0 ORDER BY n"
        return [(int(n), bytes(body)) for n, body in self._db.execute(sql).fetchall()]

    def mark_appended(self, numbers: Sequence[int], ends: Mapping[int, int]) -> None:
        """The log has these rows now, and ``omium.alerts`` ends at ``ends`` per partition."""
        self._db.executemany("UPDATE outbox SET appended = 1 WHERE n = ?", [(n,) for n in numbers])
        self._db.executemany(
            "INSERT OR REPLACE INTO alerts_end VALUES (?, ?)", sorted(ends.items())
        )

    def alerts_end(self) -> dict[int, int]:
        """Per partition of ``omium.alerts``, its end after the last batch appended."""
        return dict(self._db.execute("SELECT partition, next_offset FROM alerts_end").fetchall())

    def claim(self, now_ms: int, lease_ms: int, limit: int = 100) -> list[tuple[int, str, bytes]]:
        """Appended rows no sink has finished, unclaimed or with an expired lease: claimed.

        Returns ``(n, rule, encoded event)`` (call inside :meth:`transaction`).
        """
        rows = self._db.execute(
            "SELECT n, rule, body FROM outbox WHERE appended = 1 AND delivered = 0 "
            "AND (claimed_ms IS NULL OR claimed_ms < ?) ORDER BY n LIMIT ?",
            (now_ms - lease_ms, limit),
        ).fetchall()
        self._db.executemany(
            "UPDATE outbox SET claimed_ms = ? WHERE n = ?", [(now_ms, n) for n, _, _ in rows]
        )
        return [(int(n), str(rule), bytes(body)) for n, rule, body in rows]

    def mark_delivered(self, n: int) -> None:
        """Every sink of this row's rule is done with it (delivered, or failure recorded)."""
        self._db.execute("UPDATE outbox SET delivered = 1 WHERE n = ?", (n,))

    def pending_deliveries(self) -> int:
        """How many appended rows no sink has finished yet."""
        row = self._db.execute(
            "SELECT count(*) FROM outbox WHERE appended = 1 AND delivered = 0"
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the connection. Safe to call twice."""
        self._db.close()
