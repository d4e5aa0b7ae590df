"""Who runs what on the embedded log: `omium run` processes side by side run no step twice.

An `omium run` with no `omium worker` around hosts a worker for as long as it follows its
run. That worker may be given other executions (its partitions hold them): when its own
run ends it hands those over at their next step boundary, everything they did recorded,
so the next worker goes on without running a step again. Only a crash re-runs a step.
Side effects are counted in a file each step appends to.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STEPS = Path(__file__).resolve().parent / "side_steps.py"
CLI = "import sys; from omium.cli import main; sys.exit(main(sys.argv[1:]))"
WORKFLOW = """
name: side-effects
durability: {durability}
inputs: {{sleep_s: {sleep}, effects: {effects}}}
steps:
  - {{name: s0, call: side_steps:s0}}
  - {{name: s1, call: side_steps:s1}}
  - {{name: s2, call: side_steps:s2}}
  - {{name: s3, call: side_steps:s3}}
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, Path, Path, Path]:
    effects = tmp_path / "effects.txt"
    effects.touch()
    shutil.copy(STEPS, tmp_path / STEPS.name)  # steps resolve beside the workflow file
    slow, quick = tmp_path / "slow.yaml", tmp_path / "quick.yaml"
    # durability step: a crash re-runs only the step it cut, so the counts below are exact
    slow.write_text(WORKFLOW.format(sleep=0.6, effects=effects, durability="step"))
    quick.write_text(WORKFLOW.format(sleep=0, effects=effects, durability="batched"))
    return f"sqlite:///{tmp_path / 'log.db'}", effects, slow, quick


def omium(*argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def lines(effects: Path) -> list[str]:
    return effects.read_text().splitlines()


def wait_for(check, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.timeout(300)
def test_concurrent_runs__no_step_runs_twice(setup: tuple[str, Path, Path, Path]) -> None:
    url, effects, slow, quick = setup
    for round_ in range(3):
        ids = [f"r{round_}-{i}" for i in range(4)]
        flows = [slow, slow, quick, quick]
        procs = [
            omium("run", str(flow), "--url", url, "--execution-id", ex, "--input", f"run_key={ex}")
            for ex, flow in zip(ids, flows, strict=True)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
        counts = collections.Counter(
            line for line in lines(effects) if line.startswith(f"r{round_}-")
        )
        assert all(n == 1 for n in counts.values()), counts  # no step ran twice
        assert sorted(counts) == sorted(f"{ex}:s{k}" for ex in ids for k in range(4))


@pytest.mark.timeout(300)
def test_orphan__recovered_once_and_a_worker_stops_at_step_boundaries_on_sigterm(
    setup: tuple[str, Path, Path, Path],
) -> None:
    url, effects, slow, quick = setup
    orphan = omium("run", str(slow), "--url", url, "--execution-id", "k", "--input", "run_key=k")
    wait_for(lambda: "k:s1" in lines(effects))
    orphan.send_signal(signal.SIGKILL)  # k is left running, its s1 cut mid-way
    orphan.communicate()

    # this run's worker resumes k, then hands it over at a step boundary when q ends
    runner = omium("run", str(quick), "--url", url, "--execution-id", "q", "--input", "run_key=q")
    _, err = runner.communicate(timeout=120)
    assert runner.returncode == 0, err.decode()

    worker = omium("worker", "--url", url, "--concurrency", "2")
    try:
        wait_for(lambda: "k:s3" in lines(effects), 120)  # k finished by the worker
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, err.decode()
    assert "stopping runs at their step boundaries" in err.decode()

    counts = collections.Counter(lines(effects))
    assert counts["k:s0"] == 1 and counts["k:s2"] == 1 and counts["k:s3"] == 1, counts
    assert counts["k:s1"] <= 2  # cut by the kill: it may run again, once (at-least-once)
    assert all(counts[f"q:s{k}"] == 1 for k in range(4)), counts
    show = subprocess.run(
        [sys.executable, "-c", CLI, "executions", "show", "k", "--url", url, "--json"],
        capture_output=True,
        check=True,
        env={**os.environ},
    )
    assert b'"completed"' in show.stdout
