"""Helpers of the Kafka fault tests: workers as processes, a load of executions, the checks.

A load is ``count`` executions of 5 sync steps (:mod:`fault_steps`), each step logging its
start and end with the worker's pid. :class:`Effects` reads that log back: how often each
step ran, and whether two runs of one execution's steps ever overlapped in time.
"""

from __future__ import annotations

import asyncio
import collections
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from omium.processors.control import load_view
from omium.producers import EventLog
from omium.schemas.workflow import WorkflowSpec
from omium.services import runs as service

HERE = Path(__file__).resolve().parent
CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
STEPS = 5


def workflow(durability: str = "step") -> WorkflowSpec:
    rows = [{"name": f"s{i}", "call": f"fault_steps:s{i}"} for i in range(STEPS)]
    return WorkflowSpec.model_validate(
        {"name": "fault-load", "durability": durability, "steps": rows}
    )


def start_worker(
    url: str, log_file: Path, *, concurrency: int = 4, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``omium worker --no-processors`` with its output appended to ``log_file``."""
    with log_file.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                CLI,
                "worker",
                "--url",
                url,
                "--no-processors",
                "--concurrency",
                str(concurrency),
            ],
            stdout=out,
            stderr=out,
            cwd=HERE,
            env={**os.environ, **(env or {})},
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(30)


@dataclass
class Load:
    """Executions submitted to the log, and where their side effects go."""

    ids: list[str]
    effects: Path

    @classmethod
    async def submit(
        cls,
        log: EventLog,
        folder: Path,
        count: int,
        *,
        sleep_s: float = 0.2,
        durability: str = "step",
    ) -> Load:
        shutil.copy(HERE / "fault_steps.py", folder / "fault_steps.py")
        effects = folder / "effects.txt"
        effects.touch()
        ids, prefix = [], uuid.uuid4().hex[:8]
        for i in range(count):
            key = f"x{i:03d}"
            ids.append(
                await service.submit(
                    log,
                    workflow(durability),
                    folder / "flow.yaml",
                    {"run_key": key, "effects": str(effects), "sleep_s": sleep_s},
                    execution_id=f"{prefix}-{key}",
                )
            )
        return cls(ids, effects)

    async def statuses(self, log: EventLog) -> dict[str, str]:
        return {ex: (await load_view(log, ex)).status for ex in self.ids}

    async def wait_finished(self, log: EventLog, timeout: float) -> dict[str, str]:
        """Poll until every execution finished (or the timeout): their statuses."""
        deadline = time.monotonic() + timeout
        pending = set(self.ids)
        while pending and time.monotonic() < deadline:
            for ex in sorted(pending):
                try:
                    if (await load_view(log, ex)).finished:
                        pending.discard(ex)
                except Exception:  # the log may still be recovering: ask again
                    break
            if pending:
                await asyncio.sleep(1.0)
        return await self.statuses(log)


@dataclass(frozen=True)
class Run:
    key: str
    step: str
    pid: int
    start: float
    end: float | None


class Effects:
    """The side-effect log read back."""

    def __init__(self, path: Path) -> None:
        open_runs: dict[tuple[str, str, int], float] = {}
        self.runs: list[Run] = []
        for line in path.read_text().splitlines():
            key, step, what, pid, at = line.split()
            slot = (key, step, int(pid))
            if what == "start":
                open_runs[slot] = float(at)
            else:
                self.runs.append(Run(key, step, int(pid), open_runs.pop(slot), float(at)))
        self.runs += [Run(k, s, p, t, None) for (k, s, p), t in open_runs.items()]

    def counts(self) -> collections.Counter[tuple[str, str]]:
        return collections.Counter((r.key, r.step) for r in self.runs)

    def reruns(self) -> int:
        """Step runs beyond the first of each step."""
        return sum(n - 1 for n in self.counts().values())

    def overlaps(self) -> list[tuple[Run, Run]]:
        """Pairs of step runs of one execution that ran at the same time (never allowed)."""
        by_key: dict[str, list[Run]] = collections.defaultdict(list)
        for run in self.runs:
            by_key[run.key].append(run)
        found = []
        for runs in by_key.values():
            runs.sort(key=lambda r: r.start)
            for a, b in zip(runs, runs[1:], strict=False):
                if a.end is None or b.start < a.end:
                    found.append((a, b))
        return found


@dataclass(frozen=True)
class Cluster:
    """A 3-node cluster that ``broker.sh`` runs from ``state`` (see :func:`cluster_up`)."""

    state: Path
    bootstrap: str
    env: dict[str, str]

    def pid(self, node: int) -> int:
        return int((self.state / f"node-{node}" / "kafka.pid").read_text().strip())

    def signal_all(self, signum: int) -> None:
        for node in range(1, NODES + 1):
            os.kill(self.pid(node), signum)

    def signal_all_safely(self, signum: int) -> None:
        """As :meth:`signal_all`, ignoring nodes that are not there (teardown)."""
        for node in range(1, NODES + 1):
            try:
                os.kill(self.pid(node), signum)
            except (OSError, ValueError):
                pass

    def broker_sh(self, *args: str, timeout: float = 150) -> None:
        done = subprocess.run(
            [str(BROKER_SH), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"broker.sh {args} failed:\n{done.stdout}\n{done.stderr}"

    def url(self, prefix: str, **query: object) -> str:
        options = {"topic_prefix": prefix, "timeout": 5, "session_timeout": 6, **query}
        return f"kafka://{self.bootstrap}?" + "&".join(f"{k}={v}" for k, v in options.items())


NODES = 3
BROKER_SH = HERE.parents[1] / "infra" / "kafka" / "broker.sh"


def cluster_env(state: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OMIUM_KAFKA_CONTROLLER_PORT"}
    env |= {"OMIUM_KAFKA_PORT": str(port), "OMIUM_KAFKA_DIR": str(state)}
    env |= {"OMIUM_KAFKA_TIMEOUT": "130", "OMIUM_KAFKA_HEAP": env.get("OMIUM_KAFKA_HEAP", "512m")}
    return env


def wait_lines(path: Path, count: int, timeout: float = 120) -> None:
    """Until the side-effect log has ``count`` lines."""
    deadline = time.monotonic() + timeout
    while len(path.read_text().splitlines()) < count:
        assert time.monotonic() < deadline, f"only {len(path.read_text().splitlines())} lines"
        time.sleep(0.1)


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def stuck_report(log: EventLog, bootstrap: str, group: str, ids: list[str]) -> str:
    """For executions that did not finish: their run command's offset and the commit."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    lines = []
    for ex in ids:
        for record in await log.read_execution(ex, topic="omium.commands"):
            p = record.position
            done = {
                tp.partition: m.offset for tp, m in committed.items() if tp.topic.endswith(p.topic)
            }
            lines.append(
                f"{ex}: {record.event().type} at {p.partition}@{p.offset}, "
                f"committed {done.get(p.partition)}"
            )
    return "\n".join(lines)
