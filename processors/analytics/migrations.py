"""The analytics tables: ordered migrations from ``infra/clickhouse/``, recorded in the store.

``MIGRATIONS`` is the ordered list of SQL files; a file's place in it is its version
(``0001_events.sql`` is version 1). :func:`migrate` applies those the store's
``omium_migrations`` table does not list, in order, each recorded once it ran; every
statement is ``IF NOT EXISTS``, so a migration cut short by a crash runs again cleanly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from importlib.resources.abc import Traversable

from omium.processors.analytics.store import AnalyticsStore

#: the data tables, dropped by a rebuild (materialized views first: they feed the rollups)
TABLES = (
    "steps_hourly_mv",
    "llm_calls_hourly_mv",
    "steps_latency_daily_mv",
    "llm_calls_daily_mv",
    "steps_failures_daily_mv",
    "executions_daily_mv",
    "steps_hourly",
    "steps_latency_daily",
    "llm_calls_daily",
    "steps_failures_daily",
    "execution_changes",
    "executions_daily",
    "llm_calls_hourly",
    "events",
    "steps",
    "llm_calls",
    "tool_calls",
    "executions",
    "sink_batches",
    "omium_migrations",
)

MIGRATIONS_TABLE = "omium_migrations"

_LEDGER = """
CREATE TABLE IF NOT EXISTS omium_migrations (
    version    UInt32,
    name       String,
    applied_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY version
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file of ``infra/clickhouse``: its version, name and statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def _folder() -> Traversable:
    # the DDL ships as data of the package (infra imports nothing, and nothing imports it)
    return files("omium").joinpath("infra", "clickhouse")


def load_migrations(folder: Traversable | None = None) -> list[Migration]:
    """The migrations in order; a file whose number is not its place is an error."""
    found = sorted(
        (f for f in (folder or _folder()).iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    out = []
    for version, path in enumerate(found, start=1):
        number = int(path.name.split("_", 1)[0])
        if number != version:
            raise RuntimeError(f"infra/clickhouse/{path.name}: expected number {version:04d}")
        out.append(Migration(version, path.name, split_statements(path.read_text())))
    return out


def split_statements(text: str) -> tuple[str, ...]:
    """The statements of a SQL file (a ``;`` at the end of a line ends one)."""
    parts = re.split(r";[ \t]*(?:\n|$)", text)
    return tuple(p.strip() for p in parts if _code(p))


def _code(part: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in part.splitlines())


def applied(store: AnalyticsStore) -> set[int]:
    """The versions the store lists as applied."""
    store.command(_LEDGER)
    return {row[0] for row in store.query("SELECT version FROM omium_migrations")[1]}


def migrate(store: AnalyticsStore) -> list[Migration]:
    """Apply the migrations the store has not had yet; returns those applied now."""
    done = applied(store)
    ran = []
    for migration in load_migrations():
        if migration.version in done:
            continue
        for statement in migration.statements:
            store.command(statement)
        store.insert(
            "omium_migrations",
            {
                "version": [migration.version],
                "name": [migration.name],
                "applied_at": [datetime.now(UTC)],
            },
            token=f"migration:{migration.version}",
        )
        ran.append(migration)
    return ran


def drop_all(store: AnalyticsStore) -> None:
    """Drop every analytics table at once (``SYNC``: a rebuild starts from empty disks)."""
    for table in TABLES:
        kind = "VIEW" if table.endswith("_mv") else "TABLE"
        store.command(f"DROP {kind} IF EXISTS {table} SYNC")
