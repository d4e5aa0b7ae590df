"""What a piece of work costs the disk: SQLite commits and fsync calls, in a child process.

The child (a bench script run with its probe arguments) calls :func:`count_commits` before
it opens anything, then wraps the work it measures in :func:`between_marks`, and prints one
JSON line of commit counts last. :func:`traced` runs it, under ``strace`` when installed,
and counts the fsync/fdatasync calls every thread made between the marks: SQLite's own
(a commit's WAL or journal sync, a checkpoint's) whoever issued them.

Commits are every ``COMMIT``/``END`` any ``sqlite3`` connection ran, explicit or the one the
``sqlite3`` module issues for ``commit()`` (SQLAlchemy's), seen through the connection's
trace callback; a statement that committed on its own in autocommit mode is not counted.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MARK = "/omium-bench-mark"
COMMITS = [0]


def count_commits() -> None:
    """Count every COMMIT any sqlite3 connection opened from now on runs."""
    connect = sqlite3.connect

    def counted(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = connect(*args, **kwargs)

        def seen(sql: str) -> None:
            if sql.lstrip()[:6].upper() in ("COMMIT", "END"):
                COMMITS[0] += 1

        db.set_trace_callback(seen)
        return db

    sqlite3.connect = sqlite3.dbapi2.connect = counted  # type: ignore[assignment]


@contextmanager
def between_marks(label: str) -> Iterator[list[int]]:
    """Mark the work's start and end for strace; yields [commits made], set on exit."""
    made = [0]
    os.access(f"{MARK}-begin-{label}", os.F_OK)  # a syscall strace shows with its argument
    before = COMMITS[0]
    yield made
    made[0] = COMMITS[0] - before
    os.access(f"{MARK}-end-{label}", os.F_OK)


def _fsyncs(trace: Path, label: str) -> int | None:
    inside, count = False, 0
    for line in trace.read_text().splitlines():
        if f"{MARK}-begin-{label}" in line:
            inside = True
        elif f"{MARK}-end-{label}" in line:
            return count
        elif inside and ("fsync(" in line or "fdatasync(" in line):
            count += 1
    return None


def traced(child: list[str], cwd: Path) -> tuple[dict[str, float], dict[str, int | None]]:
    """Run ``child``; (its printed commit counts, fsyncs between each label's marks)."""
    strace = shutil.which("strace")
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "strace.txt"
        wrap = [strace, "-f", "-qq", "-o", str(trace)] if strace else []
        if wrap:
            wrap += ["-e", "trace=fsync,fdatasync,access,faccessat,faccessat2"]
        out = subprocess.run(wrap + child, capture_output=True, text=True, check=True, cwd=cwd)
        counts: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        synced = {label: _fsyncs(trace, label) if strace else None for label in counts}
    return counts, synced


def have_strace() -> bool:
    """Whether fsyncs can be counted here."""
    return shutil.which("strace") is not None
