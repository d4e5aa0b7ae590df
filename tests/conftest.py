"""Fixtures shared by every suite.

The Kafka broker is a command-line option (``--kafka HOST:PORT``, or ``OMIUM_TEST_KAFKA``);
``make test`` starts a real broker and passes it. Without one, Kafka tests skip locally
and *fail* in CI (``CI=true``): a Kafka test never silently skips there.

The authenticated broker (SASL_SSL, SCRAM-SHA-512) is ``--kafka-auth URL`` (or
``OMIUM_TEST_KAFKA_AUTH``: the URL ``broker.sh up --auth`` prints); without it, but with
``--kafka``, the first case that needs it starts its own with ``broker.sh up --auth`` on
free ports (``OMIUM_TEST_KAFKA_AUTH_PORT`` picks the port; the controller's is +100) and
stops it at the end of the session. Those cases carry the markers ``kafka`` and
``kafka_auth``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from omium.producers import EventLog, open_log

# No per-example deadline: Hypothesis' default (200 ms) is a wall-clock bound, and on two
# busy cores a property test then fails for being slow, not for being wrong.
settings.register_profile("omium", deadline=None)
settings.load_profile("omium")

LOG_KINDS = ("sqlite-memory", "sqlite-file", "kafka")
BROKER_SH = Path(__file__).resolve().parents[1] / "infra" / "kafka" / "broker.sh"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kafka",
        default=os.environ.get("OMIUM_TEST_KAFKA"),
        help="host:port of the broker for Kafka tests (make test starts one and sets it)",
    )
    parser.addoption(
        "--kafka-auth",
        default=os.environ.get("OMIUM_TEST_KAFKA_AUTH"),
        help="URL of a SASL_SSL broker (`broker.sh up --auth` prints it); default: with "
        "--kafka, the tests start one of their own",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every case that needs the broker ``kafka``, so ``-m "not kafka"`` needs none.

    A case needs it when it is parametrized with the log kind ``"kafka"`` (the ``log``
    fixture, or a suite's own ``kind``) or asks for ``kafka_bootstrap`` itself; the log
    kind ``"kafka-auth"`` and ``kafka_auth_url`` also mark it ``kafka_auth``.

    ``make test`` runs the cases in 2 processes, a test file in one (``-n 2 --dist
    loadfile``: module fixtures such as a gateway start once). Files that share a process
    wide resource must not collide: each process starts its own SASL_SSL broker on free
    ports, and the two 3-node files use different ports. (``--dist loadgroup`` would pin
    groups of files together, but pytest-xdist 3.8 cannot set the group on pytest 9.2's
    node ids.)
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        kinds = list(callspec.params.values()) if callspec is not None else []
        names = getattr(item, "fixturenames", ())
        auth = "kafka-auth" in kinds or "kafka_auth_url" in names
        if auth or "kafka" in kinds or "kafka_bootstrap" in names:
            item.add_marker(pytest.mark.kafka)
        if auth:
            item.add_marker(pytest.mark.kafka_auth)


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    address = request.config.getoption("--kafka")
    if not address:
        if os.environ.get("CI"):
            pytest.fail("CI=true but no broker was given (--kafka / OMIUM_TEST_KAFKA)")
        pytest.skip("no Kafka broker: run `make test`, or pass --kafka 127.0.0.1:19092")
    return str(address).removeprefix("kafka://")


@pytest.fixture(scope="session")
def kafka_auth_url(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The client URL of a SASL_SSL broker: the one given, or one started for the session."""
    given = request.config.getoption("--kafka-auth")
    if given:
        yield str(given)
        return
    chosen = os.environ.get("OMIUM_TEST_KAFKA_AUTH_PORT")
    port = int(chosen) if chosen else _free_port()
    env = {
        **os.environ,
        "OMIUM_KAFKA_PORT": str(port),
        "OMIUM_KAFKA_CONTROLLER_PORT": str(port + 100 if chosen else _free_port()),
        "OMIUM_KAFKA_DIR": str(tmp_path_factory.mktemp("kafka-auth")),
        "OMIUM_KAFKA_JAVA_OPTS": os.environ.get("OMIUM_KAFKA_JAVA_OPTS", "-XX:TieredStopAtLevel=1"),
        # beside the plain broker for the rest of the session: a smaller heap is plenty
        "OMIUM_KAFKA_HEAP": os.environ.get("OMIUM_KAFKA_HEAP", "512m"),
    }
    up = subprocess.run(
        [str(BROKER_SH), "up", "--auth"], env=env, capture_output=True, text=True, timeout=240
    )
    if up.returncode != 0:
        pytest.fail(f"`broker.sh up --auth` failed ({up.returncode}):\n{up.stderr[-3000:]}")
    line = up.stdout.strip().splitlines()[-1]
    assert line.startswith("OMIUM_LOG_URL='"), up.stdout
    try:
        yield line.removeprefix("OMIUM_LOG_URL=").strip("'")
    finally:
        subprocess.run([str(BROKER_SH), "down"], env=env, capture_output=True, timeout=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        if kind == "kafka-auth":
            url = request.getfixturevalue("kafka_auth_url")
            return f"{url}&topic_prefix={fresh_id()}.&timeout=20"
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
