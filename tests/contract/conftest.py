"""The contract suite also runs on a Kafka cluster that requires SASL_SSL (SCRAM-SHA-512).

Only here: the other suites keep the three plain kinds, so the authenticated broker adds
one pass of the contract, not of every scenario.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from omium.producers import EventLog, open_log


@pytest.fixture(params=["sqlite-memory", "sqlite-file", "kafka", "kafka-auth"])
async def log(
    request: pytest.FixtureRequest, log_url: Callable[[str], str]
) -> AsyncIterator[EventLog]:
    """A fresh event log of every kind, the authenticated Kafka included."""
    event_log = open_log(log_url(request.param))
    await event_log.create_topics()
    try:
        yield event_log
    finally:
        await event_log.close()
