"""Fixtures for the integration suites: Kafka's own Java tools, run as bounded subprocesses.

The broker comes from ``kafka_bootstrap`` (tests/conftest.py). Kafka's jars are the ones
``infra/kafka/broker.sh jars`` resolves (``make test`` resolves them before pytest starts).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BROKER_SH = REPO / "infra" / "kafka" / "broker.sh"
TOOLS_LOG4J = REPO / "infra" / "kafka" / "tools-log4j2.xml"

#: Runs one Kafka tool class: (main class, args, stdin bytes, timeout s) -> finished process.
KafkaTool = Callable[
    [str, Sequence[str], bytes | None, float],
    Coroutine[Any, Any, "subprocess.CompletedProcess[bytes]"],
]


@pytest.fixture(scope="session")
def kafka_jars() -> Path:
    """The directory of Kafka's jars (resolved by Maven once, then cached)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("java not found: Kafka's Java tools need Java 17+")
    done = subprocess.run(
        [str(BROKER_SH), "jars"], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"`broker.sh jars` failed ({done.returncode}): {done.stderr.strip()}")
    jars = Path(done.stdout.strip().splitlines()[-1])
    assert (jars / "kafka-tools-4.4.0.jar").is_file(), f"no kafka-tools jar in {jars}"
    return jars


@pytest.fixture(scope="session")
def kafka_tool(kafka_jars: Path) -> KafkaTool:
    """Run a Kafka command-line tool (a Java main class) with a hard timeout."""
    java = (
        str(Path(os.environ["JAVA_HOME"]) / "bin" / "java") if "JAVA_HOME" in os.environ else "java"
    )

    async def run(
        main_class: str, args: Sequence[str], stdin: bytes | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[bytes]:
        command = [
            java,
            # As broker.sh's kafka_tool: a short-lived JVM needs far less CPU this way.
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            f"-Dlog4j2.configurationFile={TOOLS_LOG4J}",
            "-cp",
            f"{kafka_jars}/*",
            main_class,
            *args,
        ]
        # subprocess.run kills the JVM when the timeout expires (TimeoutExpired is raised).
        return await asyncio.to_thread(
            subprocess.run,
            command,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    return run
