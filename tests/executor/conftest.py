"""The ``harness`` fixture: workers in the test's event loop over the parametrized log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from harness import Harness

from omium.producers import EventLog


@pytest.fixture
async def harness(log: EventLog) -> AsyncIterator[Harness]:
    h = Harness(log)
    try:
        yield h
    finally:
        await h.stop_workers()
