"""``omium run`` in a real terminal (tmux): the progress bar never stays on a step's line."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

# `make install` installs tmux; a local run without it skips, CI (CI=true) must not
pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None and not os.environ.get("CI"), reason="tmux is not installed"
)

STEPS = """
import time


def s(state):
    time.sleep(0.4)
    return {"n": state.get("n", 0) + 1}
"""

FLOW = """
name: terminal
steps:
  - {name: s1, call: term_steps:s}
  - {name: s2, call: term_steps:s}
  - {name: s3, call: term_steps:s}
"""


def test_run__in_a_terminal_each_step_line_is_clean_and_the_bar_goes(tmp_path: Path) -> None:
    (tmp_path / "term_steps.py").write_text(STEPS)
    (tmp_path / "flow.yaml").write_text(FLOW)
    session = f"omium-{uuid.uuid4().hex[:8]}"
    argv = [sys.executable, "-m", "omium.cli", "run", "flow.yaml", "--url"]
    argv.append(f"sqlite:///{tmp_path}/log.db")
    command = f"cd {shlex.quote(str(tmp_path))} && {shlex.join(argv)}; echo EXIT=$?; sleep 60"
    tmux = ["tmux", "-L", session]  # a server of its own: nothing shared with the user's
    subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command])
    try:
        screen = ""
        deadline = time.monotonic() + 60
        while "EXIT=" not in screen and time.monotonic() < deadline:
            time.sleep(0.2)
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    assert "EXIT=0" in lines, screen
    steps = [line for line in lines if "✓" in line]
    assert [line.split()[:2] for line in steps] == [["✓", "s1"], ["✓", "s2"], ["✓", "s3"]], screen
    assert all(line.startswith("  ✓ ") for line in steps), screen
    assert not [line for line in lines if "━" in line], screen  # the bar is gone at the end
    assert lines[-2].endswith(": completed"), screen
