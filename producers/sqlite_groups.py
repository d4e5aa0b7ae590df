"""Consumer groups on the embedded log: committed offsets and live members in SQLite tables.

Members announce themselves with a heartbeat on every poll and from a background task (so
a member busy handing its runs over still counts); a member silent for ``session_timeout``
seconds is dropped and its partitions move to the others. Partitions are
split round-robin over the members sorted by id, so every member computes the same split;
a lease per partition makes the hand-over wait until the previous owner let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Self

from omium.producers.clock import now_ms
from omium.producers.port import OnRevoked, Record

if TYPE_CHECKING:
    from omium.producers.sqlite import SqliteLog


Pair = tuple[str, int]

#: Seconds without a poll after which a member is considered gone (its partitions move).
SESSION_TIMEOUT = 5.0


def live_members(db: sqlite3.Connection, group: str, session_timeout: float) -> int:
    """Members of ``group`` that polled within ``session_timeout`` seconds."""
    (count,) = db.execute(
        "SELECT COUNT(*) FROM group_members WHERE grp = ? AND heartbeat_ms >= ?",
        (group, now_ms() - int(session_timeout * 1000)),
    ).fetchone()
    return int(count)


class SqliteSubscription:
    """One member of a consumer group on the embedded log.

    Each poll: heartbeat, work out this member's share (round-robin over live members),
    lease the partitions of that share nobody alive holds, and give up leases outside it
    — but only after ``on_revoked`` ran for them, so the next owner starts after this one
    stopped.
    """

    def __init__(
        self,
        log: SqliteLog,
        group: str,
        topics: list[str],
        *,
        from_beginning: bool = True,
        session_timeout: float = SESSION_TIMEOUT,
        poll_interval: float = 0.02,
        on_revoked: OnRevoked | None = None,
    ) -> None:
        self.group = group
        self.member = uuid.uuid4().hex
        self._log = log
        self._topics = topics
        self._from_beginning = from_beginning
        self.session_timeout = session_timeout
        self._session_ms = int(session_timeout * 1000)
        self._poll_interval = poll_interval
        self._on_revoked = on_revoked
        self._assigned: frozenset[tuple[str, int]] = frozenset()
        self._positions: dict[tuple[str, int], int] = {}
        self._closed = False
        self._beating: asyncio.Task[None] | None = None

    def assignment(self) -> frozenset[tuple[str, int]]:
        """The partitions this member owns (holds the lease of) as of its last poll."""
        return self._assigned

    def _beat(self, db: sqlite3.Connection, now: int) -> None:
        db.execute(
            "INSERT INTO group_members VALUES (?, ?, ?) ON CONFLICT (grp, member) "
            "DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
            (self.group, self.member, now),
        )

    async def _heartbeat(self) -> None:
        """Beat in the background, as Kafka's consumers do.

        A member busy in ``on_revoked`` (waiting for its runs to reach a step boundary), or
        stopping, is still alive: nobody may take its partitions meanwhile.
        """
        while not self._closed:
            await asyncio.sleep(self._session_ms / 3000)
            with self._log._write() as db:
                self._beat(db, now_ms())

    def _members(self, db: sqlite3.Connection) -> list[str]:
        """Heartbeat, drop silent members, and list the live ones."""
        now = now_ms()
        self._beat(db, now)
        db.execute(
            "DELETE FROM group_members WHERE grp = ? AND heartbeat_ms < ?",
            (self.group, now - self._session_ms),
        )
        return [
            m
            for (m,) in db.execute(
                "SELECT member FROM group_members WHERE grp = ? ORDER BY member", (self.group,)
            )
        ]

    def _leases(self, db: sqlite3.Connection) -> dict[tuple[str, int], str]:
        rows = db.execute(
            "SELECT topic, partition, member FROM group_leases WHERE grp = ?", (self.group,)
        )
        return {(t, p): m for t, p, m in rows}

    def _claim(
        self, db: sqlite3.Connection
    ) -> tuple[frozenset[tuple[str, int]], set[tuple[str, int]]]:
        """Lease what is ours and free; returns (owned, leased by us but no longer ours)."""
        members = self._members(db)
        me = members.index(self.member)
        pairs = [(t, p) for t in sorted(self._topics) for p in range(self._log._partition_count(t))]
        share = {pair for i, pair in enumerate(pairs) if i % len(members) == me}
        leases = self._leases(db)
        live = set(members)
        for pair in share:
            holder = leases.get(pair)
            if holder is None or holder not in live:
                db.execute(
                    "INSERT INTO group_leases VALUES (?, ?, ?, ?) ON CONFLICT "
                    "(grp, topic, partition) DO UPDATE SET member = excluded.member",
                    (self.group, *pair, self.member),
                )
                leases[pair] = self.member
        owned = frozenset(pair for pair in share if leases.get(pair) == self.member)
        leaving = {pair for pair, m in leases.items() if m == self.member and pair not in share}
        return owned, leaving

    async def _rebalance(self) -> None:
        with self._log._write() as db:
            owned, leaving = self._claim(db)
            for pair in owned - self._assigned:
                row = db.execute(
                    "SELECT offset FROM group_offsets WHERE grp = ? AND topic = ? "
                    "AND partition = ?",
                    (self.group, *pair),
                ).fetchone()
                if row is not None:
                    self._positions[pair] = int(row[0])
                elif self._from_beginning:
                    self._positions[pair] = 0
                else:
                    self._positions[pair] = self._log._head(self._log._topic(pair[0])[0], pair[1])
        revoked = frozenset(self._assigned - owned)
        for pair in revoked:
            self._positions.pop(pair, None)
        self._assigned = owned
        if revoked and self._on_revoked is not None:
            await self._on_revoked(revoked)
        if leaving:
            with self._log._write() as db:
                db.executemany(
                    "DELETE FROM group_leases WHERE grp = ? AND topic = ? AND partition = ? "
                    "AND member = ?",
                    [(self.group, *pair, self.member) for pair in leaving],
                )

    async def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        """Return up to ``max_records`` next records, waiting up to ``timeout`` seconds."""
        if self._closed:
            raise RuntimeError("poll() on a closed subscription")
        if self._beating is None:
            self._beating = asyncio.create_task(self._heartbeat(), name="omium-heartbeat")
        deadline = time.monotonic() + timeout
        while True:
            await self._rebalance()
            records = self._fetch(max_records)
            if records or time.monotonic() >= deadline:
                return records
            await asyncio.sleep(min(self._poll_interval, max(0.0, deadline - time.monotonic())))

    def _fetch(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        for pair in sorted(self._assigned):
            if len(out) >= max_records:
                break
            topic, partition = pair
            rows = self._log._range(
                topic, partition, self._positions[pair], None, max_records - len(out)
            )
            if rows:
                out.extend(rows)
                self._positions[pair] = rows[-1].position.offset + 1
        return out

    async def commit(self, offsets: Mapping[tuple[str, int], int] | None = None) -> bool:
        """Commit ``offsets`` (default: the consumed positions) of partitions still leased.

        False when a partition of ``offsets`` this member owned has lost its lease.
        """
        chosen = self._positions if offsets is None else offsets
        with self._log._write() as db:
            self._members(db)
            mine = {pair for pair, m in self._leases(db).items() if m == self.member}
            db.executemany(
                "INSERT INTO group_offsets VALUES (?, ?, ?, ?) "
                "ON CONFLICT (grp, topic, partition) DO UPDATE SET offset = excluded.offset",
                [(self.group, t, p, off) for (t, p), off in chosen.items() if (t, p) in mine],
            )
        return all(pair in mine for pair in chosen if pair in self.assignment())

    async def close(self) -> None:
        """Leave the group so the other members take this one's partitions at once."""
        if self._closed:
            return
        self._closed = True
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
        with self._log._write() as db:
            db.execute(
                "DELETE FROM group_members WHERE grp = ? AND member = ?",
                (self.group, self.member),
            )
            db.execute(
                "DELETE FROM group_leases WHERE grp = ? AND member = ?", (self.group, self.member)
            )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
