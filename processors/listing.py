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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from omium.projections import ExecutionView, view_from_dict

#: a position in the list: (submission time, execution id); the list sorts by it, descending
ListingKey = tuple[datetime, str]

#: how far the processors' clock may trail the workers' (see the module docs)
CLOCK_SKEW = timedelta(seconds=5)

#: a view without a submission time (stored by an older omium) sorts as the newest
_LATEST = datetime.max.replace(tzinfo=UTC)


def listing_key(view: ExecutionView) -> ListingKey:
    """Where ``view`` sits in the list (newest first = descending)."""
    return Listed.of(view).key


@dataclass(frozen=True)
class Listed:
    """What a listing filters and sorts by: a few fields of a view, read without decoding it.

    A stored view's steps and checkpoints are most of its decoding cost; a page decodes
    only the views it returns.
    """

    execution_id: str
    status: str
    workflow: str | None
    tenant_id: str
    submitted_at: datetime | None

    @property
    def key(self) -> ListingKey:
        """Where it sits in the list (newest first = descending)."""
        return (self.submitted_at or _LATEST, self.execution_id)

    @classmethod
    def of(cls, view: ExecutionView) -> Listed:
        """From a decoded view."""
        return cls(view.execution_id, view.status, view.workflow, view.tenant_id, view.submitted_at)

    @classmethod
    def stored(cls, data: dict[str, Any]) -> Listed:
        """From a stored view's JSON (``projections.storage.view_to_dict``)."""
        submitted = data.get("submitted_at")
        return cls(
            data["execution_id"],
            data["status"],
            data.get("workflow"),
            data.get("tenant_id", "default"),  # views stored before tenants
            datetime.fromisoformat(submitted) if submitted else None,
        )


@dataclass(frozen=True)
class Listing:
    """Which views a page lists: at most ``limit``, newest submission first.

    Args:
        limit: at most this many views.
        before: only views strictly after this key in the list (the previous page's last).
        since: only views submitted at or after this instant (lets a reader stop early).
        until: only views submitted at or before this instant.
        status: only views of this status.
        workflow: only views of this workflow.
        tenant: only this tenant's views (None: every tenant's).
    """

    limit: int
    before: ListingKey | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    workflow: str | None = None
    tenant: str | None = None

    def admits(self, listed: Listed) -> bool:
        """Whether the view belongs on the page (before the limit is applied)."""
        submitted = listed.submitted_at
        return (
            (self.before is None or listed.key < self.before)
            and (self.since is None or (submitted is not None and submitted >= self.since))
            and (self.until is None or (submitted is not None and submitted <= self.until))
            and (self.status is None or listed.status == self.status)
            and (self.workflow is None or listed.workflow == self.workflow)
            and (self.tenant is None or listed.tenant_id == self.tenant)
        )


def decode_listed(raw: bytes) -> tuple[Listed, bytes] | None:
    """A stored view's listing fields, with the bytes to decode it later (None: unreadable)."""
    try:
        return Listed.stored(orjson.loads(raw)), raw
    except (ValueError, KeyError, TypeError):
        return None  # another format: a rebuild (omium projections rebuild) will tell


def decode_view(raw: bytes) -> ExecutionView:
    """The whole stored view."""
    return view_from_dict(orjson.loads(raw))


class NewestViews:
    """The views a backward scan met, and whether the newest ``limit`` are known yet."""

    def __init__(self, listing: Listing, clock_skew: timedelta = CLOCK_SKEW) -> None:
        self.listing = listing
        self.clock_skew = clock_skew
        self.seen: set[str] = set()
        self.found: list[tuple[Listed, bytes]] = []

    def offer(self, key: str, raw: bytes) -> None:
        """The newest stored version of ``key``'s view (empty: deleted)."""
        self.seen.add(key)
        listed = decode_listed(raw) if raw else None
        if listed is not None and self.listing.admits(listed[0]):
            self.found.append(listed)

    def complete(self, frontier_ms: int) -> bool:
        """Whether no view written at or before ``frontier_ms`` (the newest unread) can rank."""
        bound = datetime.fromtimestamp(frontier_ms / 1000, UTC) + self.clock_skew
        if self.listing.since is not None and bound < self.listing.since:
            return True
        ranked = sum(1 for listed, _ in self.found if listed.key[0] > bound)
        return ranked >= self.listing.limit

    def page(self) -> list[ExecutionView]:
        """The newest ``limit`` views met, newest first, decoded."""
        newest = sorted(self.found, key=lambda found: found[0].key, reverse=True)
        return [decode_view(raw) for _, raw in newest[: self.listing.limit]]
