"""The embedded event log: one SQLite file in WAL mode, shaped like Kafka.

Topics have the same partitions as on Kafka and keys land on the same partition numbers
(murmur2). Offsets are dense per partition and assigned inside ``BEGIN IMMEDIATE``
transactions, so several processes can append to one file at once. Consumer groups keep
committed offsets and live members in tables; partitions are split round-robin among
members whose heartbeat is fresh.

Calls are synchronous SQLite work inside ``async`` methods: each is short (tens of
microseconds), and a writer in another process makes us wait at most ``busy_timeout``.
WAL checkpoints (copying the WAL back into the database, with an fsync) run on a background
thread from the first write on, so an append's commit does not pay for them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Literal

from omium.producers.clock import now_ms
from omium.producers.partitioner import partition_for
from omium.producers.port import OnRevoked, Position, Record
from omium.producers.sqlite_groups import SESSION_TIMEOUT, SqliteSubscription, live_members
from omium.schemas import DEFAULT_MAX_EVENT_BYTES, Event, LogUnavailable, TopicNotFound, encode
from omium.schemas.topics import EVENTS, TOPICS, TopicSpec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, partitions INTEGER NOT NULL,
    retention_ms INTEGER NOT NULL, cleanup_policy TEXT NOT NULL
);
-- id packs the position (see _rowid), so a partition range is a rowid range: no extra index.
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY, key TEXT, ts_ms INTEGER NOT NULL, value BLOB NOT NULL
);
-- the per-execution index: one run's events without scanning its partition
CREATE INDEX IF NOT EXISTS records_by_key ON records (key);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
    offset INTEGER NOT NULL, PRIMARY KEY (grp, topic, partition)
) WITHOUT ROWID;
-- a member reads a partition only while it holds its lease; it gives a lease up after its
-- on_revoked hook ran, so two members never work on one partition at once
CREATE TABLE IF NOT EXISTS group_leases (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, member TEXT NOT NULL,
    PRIMARY KEY (grp, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
    grp TEXT NOT NULL, member TEXT NOT NULL, heartbeat_ms INTEGER NOT NULL,
    PRIMARY KEY (grp, member)
) WITHOUT ROWID;
"""


# A record's rowid is its position: 7 bits of topic id, 16 of partition, 40 of offset.
_PARTITION_SHIFT = 40
_TOPIC_SHIFT = 56
_OFFSET_MASK = (1 << _PARTITION_SHIFT) - 1


def _rowid(topic_id: int, partition: int, offset: int) -> int:
    return (topic_id << _TOPIC_SHIFT) | (partition << _PARTITION_SHIFT) | offset


class SqliteLog:
    """An :class:`~omium.producers.port.EventLog` on one SQLite file (or ``:memory:``).

    Also :class:`~omium.producers.port.LocalFile`, :class:`~omium.producers.port.LiveMembers`
    and :class:`~omium.producers.port.RunsInline`: every call is synchronous SQLite work.
    """

    runs_inline: ClassVar[Literal[True]] = True

    def __init__(
        self,
        path: str | Path,
        *,
        url: str | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        busy_timeout: float = 30.0,
        synchronous: str = "NORMAL",
        create_topics: bool = True,
    ) -> None:
        self.path = str(path)
        self.url = url or f"sqlite:///{self.path}"
        self.max_event_bytes = max_event_bytes
        self._busy_timeout = busy_timeout
        self._topics: dict[str, tuple[int, int]] = {}
        self._db = self._connect(synchronous)
        self._checkpointer: _Checkpointer | None = None
        self._commits = 0  # this connection's; SQLite's data_version counts the others'
        if create_topics:
            self._create_topics(TOPICS)

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        if self.path != ":memory:":
            parent = Path(self.path).parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LogUnavailable(
                    f"cannot create the folder for the embedded log {self.path!r}: {exc.strerror}",
                    hint="set OMIUM_HOME or OMIUM_LOG_URL to a writable place",
                ) from None
        try:
            db = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            # WAL: readers never block the writer, and other processes can append at once.
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (not a power cut); FULL fsyncs.
            db.execute(f"PRAGMA synchronous={synchronous}")
            # A backstop only: the checkpointer thread keeps the WAL far smaller than this.
            db.execute("PRAGMA wal_autocheckpoint=10000")
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise LogUnavailable(
                f"cannot open the embedded log {self.path!r}: {exc}",
                hint="set OMIUM_HOME or OMIUM_LOG_URL to a writable SQLite file",
            ) from None
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the file's write lock up front."""
        if self._checkpointer is None and self.path != ":memory:":
            self._checkpointer = _Checkpointer(self.path)
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise LogUnavailable(
                f"the embedded log {self.path!r} stayed locked for "
                f"{self._busy_timeout:.0f} s ({exc})",
                hint="another process holds it; retry, or raise busy_timeout in the URL",
            ) from None
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._commits += 1

    def version(self) -> tuple[int, int]:
        """See :class:`~omium.producers.port.Versioned`: one PRAGMA, no table read.

        ``PRAGMA data_version`` changes when another connection (another process) commits
        to the file; this connection's own commits are counted beside it.
        """
        return (int(self._db.execute("PRAGMA data_version").fetchone()[0]), self._commits)

    # -- topics -----------------------------------------------------------------------

    async def create_topics(self, specs: Sequence[TopicSpec] = TOPICS) -> None:
        """Create missing topics; existing ones keep their partition count."""
        self._create_topics(specs)

    def _create_topics(self, specs: Sequence[TopicSpec]) -> None:
        with self._write() as db:
            for spec in specs:
                db.execute(
                    "INSERT OR IGNORE INTO topics (name, partitions, retention_ms, "
                    "cleanup_policy) VALUES (?, ?, ?, ?)",
                    (spec.name, spec.partitions, spec.retention_ms, spec.cleanup_policy),
                )

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has."""
        return self._partition_count(topic)

    def _partition_count(self, topic: str) -> int:
        return self._topic(topic)[1]

    def _topic(self, topic: str) -> tuple[int, int]:
        """``(topic id, partitions)``, cached: neither changes once a topic exists."""
        found = self._topics.get(topic)
        if found is None:
            row = self._db.execute(
                "SELECT id, partitions FROM topics WHERE name = ?", (topic,)
            ).fetchone()
            if row is None:
                raise TopicNotFound(
                    f"topic {topic!r} does not exist in {self.url}",
                    hint="create it with `omium topics create`",
                )
            found = self._topics[topic] = (int(row[0]), int(row[1]))
            if not 0 < found[0] < (1 << 7) or found[1] > (1 << 16):
                raise TopicNotFound(
                    f"topic {topic!r} is beyond this log's limits (127 topics, 65,536 "
                    "partitions each)",
                    hint="use a fresh log file",
                )
        return found

    # -- writes -----------------------------------------------------------------------

    async def append(self, event: Event, *, topic: str | None = None) -> Position:
        """Durably append one event."""
        return self._append([event], topic)[0]

    async def append_batch(
        self, events: Sequence[Event], *, topic: str | None = None
    ) -> list[Position]:
        """Durably append many events in one transaction."""
        return self._append(events, topic)

    def _append(self, events: Sequence[Event], topic: str | None) -> list[Position]:
        # Encode (and refuse oversized events) before taking the write lock.
        return self._append_raw(
            [(topic or e.TOPIC, e.key, encode(e, max_bytes=self.max_event_bytes)) for e in events]
        )

    async def append_records(
        self, records: Sequence[tuple[str, str | None, bytes]]
    ) -> list[Position]:
        """Durably append raw ``(topic, key, value)`` records, unvalidated, in one transaction."""
        return self._append_raw(records)

    def _append_raw(self, records: Sequence[tuple[str, str | None, bytes]]) -> list[Position]:
        if not records:
            return []
        rows = []
        for name, key, value in records:
            topic_id, count = self._topic(name)
            rows.append((name, topic_id, partition_for(key or "", count), key, value))
        ts = now_ms()
        positions: list[Position] = []
        with self._write() as db:
            heads: dict[tuple[int, int], int] = {}
            inserts = []
            for name, topic_id, partition, key, value in rows:
                head = heads.get((topic_id, partition))
                if head is None:
                    head = self._head(topic_id, partition)
                heads[(topic_id, partition)] = head + 1
                inserts.append((_rowid(topic_id, partition, head), key, ts, value))
                positions.append(Position(name, partition, head))
            # In rowid order each partition's rows go in as one run at the end of its range.
            inserts.sort(key=_first)
            db.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", inserts)
        return positions

    def _head(self, topic_id: int, partition: int) -> int:
        """The next offset of a partition: one rowid lookup, no counter table to update."""
        # ORDER BY ... LIMIT 1 walks the rowid b-tree from the end; MAX(id) with a WHERE
        # range would scan the whole partition.
        row = self._db.execute(
            "SELECT id FROM records WHERE id >= ? AND id < ? ORDER BY id DESC LIMIT 1",
            (_rowid(topic_id, partition, 0), _rowid(topic_id, partition + 1, 0)),
        ).fetchone()
        return 0 if row is None else (row[0] & _OFFSET_MASK) + 1

    # -- reads ------------------------------------------------------------------------

    async def read(
        self, topic: str, partition: int, start: int = 0, end: int | None = None
    ) -> list[Record]:
        """Records of one partition with ``start <= offset < end``."""
        self._check_partition(topic, partition)
        return self._range(topic, partition, start, end)

    async def read_many(
        self, topic: str, ranges: Mapping[int, tuple[int, int]]
    ) -> dict[int, list[Record]]:
        """Per partition, its records with ``start <= offset < end``."""
        for partition in ranges:
            self._check_partition(topic, partition)
        return {p: self._range(topic, p, start, end) for p, (start, end) in ranges.items()}

    def _range(
        self, topic: str, partition: int, start: int, end: int | None, limit: int = -1
    ) -> list[Record]:
        topic_id, _ = self._topic(topic)
        rows = self._db.execute(
            "SELECT id, key, ts_ms, value FROM records WHERE id >= ? AND id < ? "
            "ORDER BY id LIMIT ?",
            (_rowid(topic_id, partition, start), _rowid(topic_id, partition, _upper(end)), limit),
        ).fetchall()
        return [_record(topic, row) for row in rows]

    async def read_execution(
        self,
        execution_id: str,
        *,
        topic: str = EVENTS.name,
        start: int = 0,
        end: int | None = None,
        since_ms: int | None = None,
    ) -> list[Record]:
        """One execution's records through the per-key index (``since_ms`` is not needed)."""
        topic_id, count = self._topic(topic)
        partition = partition_for(execution_id, count)
        rows = self._db.execute(
            "SELECT id, key, ts_ms, value FROM records WHERE key = ? AND id >= ? AND id < ? "
            "ORDER BY id",
            (
                execution_id,
                _rowid(topic_id, partition, start),
                _rowid(topic_id, partition, _upper(end)),
            ),
        ).fetchall()
        return [_record(topic, row) for row in rows]

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the next offset."""
        topic_id, count = self._topic(topic)
        return {p: self._head(topic_id, p) for p in range(count)}

    def _check_partition(self, topic: str, partition: int) -> None:
        count = self._partition_count(topic)
        if not 0 <= partition < count:
            raise TopicNotFound(f"topic {topic!r} has partitions 0..{count - 1}, not {partition}")

    # -- consumer groups ----------------------------------------------------------------

    def subscribe(
        self,
        group: str,
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        on_revoked: OnRevoked | None = None,
    ) -> SqliteSubscription:
        """Join consumer group ``group`` over ``topics``."""
        for topic in topics:
            self._partition_count(topic)
        return SqliteSubscription(
            self, group, list(topics), from_beginning=from_beginning, on_revoked=on_revoked
        )

    async def live_members(self, group: str) -> int:
        """How many members of consumer group ``group`` are alive (polled recently)."""
        return live_members(self._db, group, SESSION_TIMEOUT)

    async def close(self) -> None:
        """Stop the checkpointer and close the connection. Safe to call twice."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self._db.close()


def _first(row: tuple[int, str | None, int, bytes]) -> int:
    return row[0]


def _upper(end: int | None) -> int:
    return _OFFSET_MASK if end is None else min(end, _OFFSET_MASK)


def _record(topic: str, row: tuple[int, str | None, int, bytes]) -> Record:
    rowid, key, ts_ms, value = row
    partition = (rowid >> _PARTITION_SHIFT) & 0xFFFF
    return Record(Position(topic, partition, rowid & _OFFSET_MASK), key, value, ts_ms)


class _Checkpointer:
    """Runs passive WAL checkpoints on its own connection and thread.

    A/B on this project's 2-core machine, 1 KiB events in batches of 1,000: ~22k/s when
    commits run SQLite's auto-checkpoint themselves, ~30k/s with this thread doing it
    (SQLite releases the GIL). A passive checkpoint never blocks writers or readers.
    """

    def __init__(self, path: str, interval: float = 0.2) -> None:
        self._path = path
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="omium-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        db = sqlite3.connect(self._path, timeout=0.1, isolation_level=None)
        try:
            while not self._stopped.wait(self._interval):
                self._checkpoint(db)
            self._checkpoint(db)
        finally:
            db.close()

    @staticmethod
    def _checkpoint(db: sqlite3.Connection) -> None:
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.OperationalError:
            pass  # busy: another checkpoint is running; the next tick catches up

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
