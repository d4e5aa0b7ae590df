"""The list's counts by status: an index read of the view store, or a bounded, kept answer."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from omium.processors.listing import Listing
from omium.processors.view_store import SqliteViews
from omium.projections import ExecutionView, view_to_dict
from omium.services.context import Caller, Omium
from omium.services.dashboard import CountCache, counts


def view(execution_id: str, status: str, tenant: str) -> ExecutionView:
    return ExecutionView(execution_id=execution_id, status=status, tenant_id=tenant)


def test_store__counts_a_tenants_views_by_status_through_its_index(tmp_path: Path) -> None:
    store = SqliteViews(str(tmp_path / "log.views.db"))
    views = [view("a1", "completed", "a"), view("a2", "failed", "a"), view("b1", "failed", "b")]
    with store.transaction():
        store.save({v.execution_id: v for v in views}, {0: 3})
    assert store.counts("a") == {"completed": 1, "failed": 1}
    assert store.counts("b") == {"failed": 1} and store.counts() == {"completed": 1, "failed": 2}
    with store.transaction():  # a view that changes status moves between the counts
        store.save({"a2": view("a2", "completed", "a")}, {0: 4})
    assert store.counts("a") == {"completed": 2}
    plan = store._db.execute(  # noqa: SLF001 - the query plan is what this test is about
        "EXPLAIN QUERY PLAN SELECT status, count(*) FROM views WHERE tenant = ? GROUP BY status",
        ("a",),
    ).fetchall()
    assert "COVERING INDEX views_counts" in str(plan)


def test_store__one_made_before_the_tenant_column_gains_it_filled_from_the_bodies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.views.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE views (execution_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
        "submitted TEXT, body BLOB NOT NULL) WITHOUT ROWID"
    )
    for v in (view("a1", "completed", "a"), view("d1", "running", "default")):
        body = view_to_dict(v)
        if v.tenant_id == "default":
            body.pop("tenant_id")  # stored before tenants
        old.execute("INSERT INTO views VALUES (?, ?, NULL, ?)", (v.execution_id, v.status,
                    orjson.dumps(body)))  # fmt: skip
    old.commit()
    old.close()
    store, again = SqliteViews(str(path)), SqliteViews(str(path))  # a second opener: no-op
    assert store.counts("a") == {"completed": 1} == again.counts("a")
    assert store.counts("default") == {"running": 1}


class Changelog:
    """A reader without a count index (as on Kafka): ``newest`` only."""

    def __init__(self, views: list[ExecutionView]) -> None:
        self.views, self.asked = views, 0

    async def newest(self, listing: Listing) -> list[ExecutionView]:
        self.asked += 1
        mine = [v for v in self.views if listing.tenant in (None, v.tenant_id)]
        return mine[: listing.limit]


def app_over(reader: Any, tenant: str) -> Omium:
    app = Omium(log=None, settings=None, _readers=[reader])  # type: ignore[arg-type]
    return app.as_caller(Caller(tenant, "viewer"))


def test_counts__without_an_index_the_newest_are_counted_and_kept_a_while() -> None:
    views = [view(f"x{i}", "completed", "a") for i in range(700)] + [view("y", "failed", "b")]
    reader, now = Changelog(views), [0.0]
    cache = CountCache(ttl=10, clock=lambda: now[0])
    a = app_over(reader, "a")
    found = asyncio.run(cache.counts(a))
    assert found.by_status["completed"] == 500 and found.newest == 500
    assert found.by_status["failed"] == 0 and set(found.by_status) >= {"queued", "running"}
    now[0] = 9.0
    assert asyncio.run(cache.counts(a)) == found and reader.asked == 1
    b = asyncio.run(cache.counts(app_over(reader, "b")))  # kept per tenant
    assert b.by_status["failed"] == 1 and b.newest is None and reader.asked == 2
    now[0] = 10.5
    asyncio.run(cache.counts(a))
    assert reader.asked == 3
    assert asyncio.run(counts(app_over(Changelog(views[:3]), "a"))).newest is None
