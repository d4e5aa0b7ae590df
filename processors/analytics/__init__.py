"""Analytics in ClickHouse: the store, its migrations, and the sink that feeds it.

- :mod:`.store`: :class:`~.store.AnalyticsPlace` (``OMIUM_ANALYTICS_URL``: chDB in this
  process, or a server) and the small :class:`~.store.AnalyticsStore` interface over
  clickhouse-connect;
- :mod:`.migrations`: the ordered DDL of ``infra/clickhouse/``;
- :mod:`.sink`: :class:`~.sink.AnalyticsSink`, ``omium.events`` into the tables, exactly once.

The rows themselves are built by the pure :mod:`omium.projections.analytics`.
"""

from __future__ import annotations

from pathlib import Path

from omium.processors.analytics.migrations import MIGRATIONS_TABLE, drop_all, migrate
from omium.processors.analytics.sink import CONSUMER, AnalyticsSink, progress, record_batch
from omium.processors.analytics.store import (
    AnalyticsPlace,
    AnalyticsStore,
    analytics_url,
    open_place,
)
from omium.producers import EventLog, LocalFile, Settings
from omium.schemas import ConfigError

__all__ = [
    "CONSUMER",
    "MIGRATIONS_TABLE",
    "AnalyticsPlace",
    "AnalyticsSink",
    "AnalyticsStore",
    "analytics_url",
    "drop_all",
    "migrate",
    "open_place",
    "progress",
    "record_batch",
    "sink_for",
]


def sink_for(log: EventLog, settings: Settings | None = None) -> AnalyticsSink | None:
    """The sink a worker runs beside its runs, or None when analytics are not set up.

    Set up means ``OMIUM_ANALYTICS_URL`` is set, or the log is the embedded file under
    ``$OMIUM_HOME`` and the embedded store beside it exists (``omium analytics migrate`` or
    any ``omium analytics`` question made it). A worker on another log (a test's, say) does
    not feed that store; a worker without analytics pays nothing, and the questions catch
    the embedded store up from the log themselves anyway.
    """
    settings = settings or Settings.load()
    try:
        place = open_place(settings)
    except ConfigError:  # no analytics extra installed: no sink, not an error
        return None
    if settings.analytics_url is None:
        beside = isinstance(log, LocalFile) and place.path is not None
        if not beside or not place.exists() or not _same_folder(log, place):
            return None
    return AnalyticsSink(log, place)


def _same_folder(log: EventLog, place: AnalyticsPlace) -> bool:
    """Whether the embedded store sits beside ``log``'s file (the default layout)."""
    if not isinstance(log, LocalFile) or log.path == ":memory:" or place.path is None:
        return False
    return Path(log.path).resolve().parent == place.path.resolve().parent
