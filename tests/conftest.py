"""Fixtures shared by every suite.

The Kafka broker is a command-line option (``--kafka HOST:PORT``, or ``OMIUM_TEST_KAFKA``);
``make test`` starts a real broker and passes it. Without one, Kafka tests skip locally
and *fail* in CI (``CI=true``): a Kafka test never silently skips there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import settings

from omium.producers import EventLog, open_log

# No per-example deadline: Hypothesis' default (200 ms) is a wall-clock bound, and on two
# busy cores a property test then fails for being slow, not for being wrong.
settings.register_profile("omium", deadline=None)
settings.load_profile("omium")

LOG_KINDS = ("sqlite-memory", "sqlite-file", "kafka")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kafka",
        default=os.environ.get("OMIUM_TEST_KAFKA"),
        help="host:port of the broker for Kafka tests (make test starts one and sets it)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every case that needs the broker ``kafka``, so ``-m "not kafka"`` needs none.

    A case needs it when it is parametrized with the log kind ``"kafka"`` (the ``log``
    fixture, or a suite's own ``kind``) or asks for ``kafka_bootstrap`` itself.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        kinds = callspec.params.values() if callspec is not None else ()
        if "kafka" in kinds or "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    address = request.config.getoption("--kafka")
    if not address:
        if os.environ.get("CI"):
            pytest.fail("CI=true but no broker was given (--kafka / OMIUM_TEST_KAFKA)")
        pytest.skip("no Kafka broker: run `make test`, or pass --kafka 127.0.0.1:19092")
    return str(address).removeprefix("kafka://")


def fresh_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """kind -> a URL of a fresh, empty log of that kind."""

    def make(kind: str) -> str:
        if kind == "sqlite-memory":
            return "sqlite:///:memory:"
        if kind == "sqlite-file":
            return f"sqlite:///{tmp_path / fresh_id('log')}.db"
        if kind == "kafka":
            bootstrap = request.getfixturevalue("kafka_bootstrap")
            return f"kafka://{bootstrap}?topic_prefix={fresh_id()}.&timeout=20"
        raise ValueError(kind)

    return make


@pytest.fixture(params=LOG_KINDS)
async def log(
    request: pytest.FixtureRequest, log_url: Callable[[str], str]
) -> AsyncIterator[EventLog]:
    """A fresh event log of every kind: the contract suite runs once per adapter."""
    event_log = open_log(log_url(request.param))
    await event_log.create_topics()
    try:
        yield event_log
    finally:
        await event_log.close()
