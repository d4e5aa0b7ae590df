"""Test support for the dashboard: a real ``omium serve`` + worker, and Debian's chromium.

Playwright drives ``/usr/bin/chromium`` (installed by ``make install``): its own browser
download cannot work on machines without internet, so a missing chromium FAILS the tests
with the command that installs it, never skips them.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from gateway_process import FLOW, STEPS, Gateway, cli, free_port, omium, wait_ready
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
#: as the machine's notes say: no sandbox (root), and no call home on a closed network
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".omium" / "screenshots"
EXAMPLES = ROOT / "examples"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright (a failure, not a skip, when it is missing)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs it (Debian's chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def shoot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact under ``.omium/screenshots/``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


#: every visible form control without a label (<label for>, a wrapping label, aria-label)
UNLABELED_JS = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter((el) => el.type !== "hidden")
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                  && !el.getAttribute("aria-labelledby"))
  .map((el) => el.outerHTML)"""


def unlabeled(page: Page) -> list[str]:
    """The page's form controls that no label names."""
    return list(page.evaluate(UNLABELED_JS))


@contextmanager
def dashboard_gateway(
    kind: str,
    home: Path,
    request: pytest.FixtureRequest,
    keys: tuple[tuple[str, str], ...] = (),
) -> Iterator[tuple[Gateway, dict[str, str]]]:
    """``omium serve`` and a worker that runs ``gw-flow``, the support desk and looping examples.

    ``keys``: ``(tenant, role)`` of API keys to create first (then the gateway wants them);
    the answer maps ``"tenant-role"`` to each key.
    """
    if kind == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        url = f"kafka://{bootstrap}?topic_prefix={uuid.uuid4().hex[:10]}.&timeout=20"
    else:
        url = f"sqlite:///{home / 'log.db'}"
    folder = home / "workflows"
    folder.mkdir()
    (folder / "flow_steps.py").write_text(STEPS.read_text())
    flow = folder / "flow.yaml"
    flow.write_text(FLOW)
    for name in (
        "support_graph.py",
        "support_graph.yaml",
        "looping_agent.yaml",
        "looping_steps.py",
    ):
        shutil.copy(EXAMPLES / name, folder / name)
    shutil.copytree(EXAMPLES / "data", folder / "data")
    created = cli("topics", "create", "--url", url, home=home)
    assert created.returncode == 0, created.stderr
    made: dict[str, str] = {}
    for tenant, role in keys:
        done = cli(
            "keys", "create", "--tenant", tenant, "--name", f"{tenant}-{role}", "--role", role,
            "--url", url, "--json", home=home,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        made[f"{tenant}-{role}"] = httpx.Response(200, content=done.stdout).json()["key"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    worker = omium("worker", "--url", url, "--workflows", str(folder), home=home)
    serve = omium("serve", "--port", str(port), "--url", url, home=home)
    try:
        wait_ready(base, [worker, serve], home)
        headers = {"Authorization": f"Bearer {next(iter(made.values()))}"} if made else {}
        with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
            yield Gateway(base, url, home, flow, client), made
    finally:
        for proc in (serve, worker):
            proc.terminate()
        for proc in (serve, worker):
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
