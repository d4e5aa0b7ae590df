"""The gateway's copy of the workflow registry, seen from another process's registrations.

``omium serve`` resolves a submission's workflow from a copy of ``omium.registry`` at
most ``registry.MAX_AGE_S`` old (``services/refreshed.py``) instead of reading the topic
per request. What another process registers must still be usable: a name or version the
copy lacks is looked up again, and a new current version shows within the copy's age.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from gateway_process import STEPS, Gateway, cli

from omium.producers import EventLog
from omium.services import Omium, registry

FLOW = """
name: reg-flow
inputs: {{total: {total}}}
steps:
  - {{name: add, call: flow_steps:add}}
"""

#: registry.MAX_AGE_S and one read, with room for a loaded machine
VISIBLE_WITHIN_S = 2.0


async def test_copy__a_name_or_version_it_lacks_is_looked_up_the_current_one_ages(
    log: EventLog, tmp_path: Path
) -> None:
    gateway, other = Omium.over(log), Omium.over(log)  # a gateway's context, another process
    registry.keep_copy(gateway)
    assert gateway.registry is not None
    now = [0.0]
    gateway.registry.clock = lambda: now[0]  # the copy's age moves only when the test says
    (tmp_path / "flow_steps.py").write_text(STEPS.read_text())
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.format(total=1))
    assert await registry.versions(gateway) == {}  # the copy: read now, empty
    first = (await registry.register(other, flow)).version
    assert (await registry.resolve(gateway, "reg-flow")).version == first  # not in the copy
    flow.write_text(FLOW.format(total=2))
    second = (await registry.register(other, flow)).version
    assert (await registry.resolve(gateway, "reg-flow", second)).version == second
    now[0] += registry.FRESH_S / 2  # the copy (read by the lookup above) is still fresh
    assert (await registry.resolve(gateway, "reg-flow")).version == second
    third_flow = tmp_path / "flow3.yaml"
    third_flow.write_text(FLOW.format(total=3))
    third = (await registry.register(other, third_flow)).version
    assert (await registry.resolve(gateway, "reg-flow")).version == second  # as the copy has it
    now[0] += registry.MAX_AGE_S + 0.01
    assert (await registry.resolve(gateway, "reg-flow")).version == third
    # what the gateway's own process registers, it sees at once
    flow.write_text(FLOW.format(total=4))
    fourth = (await registry.register(gateway, flow)).version
    assert (await registry.resolve(gateway, "reg-flow")).version == fourth


def register(gateway: Gateway, folder: Path, total: int) -> str:
    """Register ``reg-flow`` (its inputs' default ``total``) from a CLI process: its version."""
    (folder / "flow.yaml").write_text(FLOW.format(total=total))
    done = cli(
        "workflows", "register", str(folder / "flow.yaml"), "--url", gateway.log_url, "--json",
        home=gateway.home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(orjson.loads(done.stdout)[0]["version"])


def test_registry__another_process_s_registration_is_seen_at_once_by_name_and_soon_as_current(
    gateway: Gateway,
) -> None:
    api = gateway.client
    folder = gateway.home / "reg"
    folder.mkdir()
    (folder / "flow_steps.py").write_text(STEPS.read_text())
    assert api.post("/api/v1/executions", json={"workflow": "reg-flow"}).status_code == 404
    first = register(gateway, folder, 1)
    # a name the gateway's copy cannot have yet: looked up again, not refused
    got = api.post("/api/v1/executions", json={"workflow": "reg-flow"})
    assert got.status_code == 202, got.text
    assert got.json()["version"] == first

    second = register(gateway, folder, 2)
    assert second != first
    registered = time.monotonic()
    pinned = api.post("/api/v1/executions", json={"workflow": "reg-flow", "version": second})
    assert pinned.status_code == 202 and pinned.json()["version"] == second
    while True:  # the new current version: within the copy's age
        current = api.post("/api/v1/executions", json={"workflow": "reg-flow"}).json()["version"]
        if current == second:
            break
        assert current == first
        assert time.monotonic() - registered < VISIBLE_WITHIN_S, "still the old version"
        time.sleep(0.05)
    listed = [w for w in api.get("/api/v1/workflows").json() if w["name"] == "reg-flow"]
    assert [(w["version"], w["current"]) for w in listed] == [(first, False), (second, True)]
