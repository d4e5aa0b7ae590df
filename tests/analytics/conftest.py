"""Fixtures of the analytics suite: an embedded log holding a workload, and a store beside it.

The log and its store are made once per module (chDB starts its engine once per path, about
1.5 s here); each test opens its own ``Analytics`` on them, which catches up in no time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from analytics_workload import store_url, workload

from omium.producers import open_log
from omium.schemas import Event
from omium.services.analytics import Analytics, open_analytics


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return workload(300)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, events: list[Event]) -> Path:
    """A folder holding ``log.db`` with the workload (the store is made on first use)."""
    folder = tmp_path_factory.mktemp("analytics")

    async def record() -> None:
        log = open_log(f"sqlite:///{folder / 'log.db'}")
        await log.append_batch(events)
        await log.close()

    asyncio.run(record())
    return folder


@pytest.fixture
async def analytics(recorded: Path) -> AsyncIterator[Analytics]:
    answers = open_analytics(open_log(f"sqlite:///{recorded / 'log.db'}"), url=store_url(recorded))
    yield answers
    await answers.close()
