"""The wall clock of the log: milliseconds since the epoch.

One home for the time the logs stamp on what they store (a record's timestamp, a group
member's heartbeat), so the embedded log and its consumer groups cannot disagree on the
unit. The pure layers (``schemas``, ``projections``) never read a clock; producers are the
lowest layer that may.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    """Now, in whole milliseconds since the Unix epoch (the unit Kafka timestamps use)."""
    return time.time_ns() // 1_000_000
