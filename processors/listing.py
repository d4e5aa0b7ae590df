"""Listing executions newest first without reading their whole history.

A page of the execution list (``GET /executions``, ``omium executions list --limit``) is
the ``limit`` newest submissions that match its filters, after a cursor. Both readers answer
it from the newest end of what they store and stop as soon as nothing older can rank:

- the embedded view store walks an index on ``(submitted, execution_id)`` backwards;
- the Kafka changelog has no index, but its records are in write order: a view is written
  when its execution changes, never before it was submitted. So while each partition is
  read backwards, every view not yet seen was last written at or before the newest
  timestamp still unread (the *frontier*), and was submitted no later than that — plus
  :data:`CLOCK_SKEW`, for the processors' clock (record timestamps) against the workers'
  (submission times). Once ``limit`` matching views were submitted after that bound, the
  page is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from omium.projections import ExecutionView

#: a position in the list: (submission time, execution id); the list sorts by it, descending
ListingKey = tuple[datetime, str]

#: how far the processors' clock may trail the workers' (see the module docs)
CLOCK_SKEW = timedelta(seconds=5)

#: a view without a submission time (stored by an older omium) sorts as the newest
_LATEST = datetime.max.replace(tzinfo=UTC)


def listing_key(view: ExecutionView) -> ListingKey:
    """Where ``view`` sits in the list (newest first = descending)."""
    return (view.submitted_at or _LATEST, view.execution_id)


def _everything(view: ExecutionView) -> bool:
    return True


@dataclass(frozen=True)
class Listing:
    """Which views a page lists.

    Args:
        limit: at most this many views.
        before: only views strictly after this key in the list (the previous page's last).
        since: only views submitted at or after this instant (lets a reader stop early).
        status: only views of this status (an index can use it).
        match: any other filter (workflow, tenant, until).
    """

    limit: int
    before: ListingKey | None = None
    since: datetime | None = None
    status: str | None = None
    match: Callable[[ExecutionView], bool] = field(default=_everything)

    def admits(self, view: ExecutionView) -> bool:
        """Whether ``view`` belongs on the page (before the limit is applied)."""
        key = listing_key(view)
        return (
            (self.before is None or key < self.before)
            and (
                self.since is None
                or (view.submitted_at is not None and view.submitted_at >= self.since)
            )
            and (self.status is None or view.status == self.status)
            and self.match(view)
        )


class NewestViews:
    """The views a backward scan met, and whether the newest ``limit`` are known yet."""

    def __init__(self, listing: Listing, clock_skew: timedelta = CLOCK_SKEW) -> None:
        self.listing = listing
        self.clock_skew = clock_skew
        self.seen: set[str] = set()
        self.found: list[ExecutionView] = []

    def offer(self, key: str, view: ExecutionView | None) -> None:
        """The newest stored version of ``key``'s view (None: deleted or unreadable)."""
        self.seen.add(key)
        if view is not None and self.listing.admits(view):
            self.found.append(view)

    def complete(self, frontier_ms: int) -> bool:
        """Whether no view written at or before ``frontier_ms`` (the newest unread) can rank."""
        bound = datetime.fromtimestamp(frontier_ms / 1000, UTC) + self.clock_skew
        if self.listing.since is not None and bound < self.listing.since:
            return True
        ranked = sum(1 for view in self.found if listing_key(view)[0] > bound)
        return ranked >= self.listing.limit

    def page(self) -> list[ExecutionView]:
        """The newest ``limit`` views met, newest first."""
        return sorted(self.found, key=listing_key, reverse=True)[: self.listing.limit]
