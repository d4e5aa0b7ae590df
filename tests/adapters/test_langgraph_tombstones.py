"""What `omium checkpoints` lists equals what OmiumSaver lists, after each kind of tombstone.

The saver forgets checkpoints with tombstones in the log; the execution view (and so
`omium checkpoints` and `omium rollback`) must forget the same ones.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from graphs import config
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)

from omium.adapters.langgraph import OmiumSaver
from omium.processors import history
from omium.producers import EventLog


async def put(saver: OmiumSaver, tid: str, ns: str, run_id: str, **values: Any) -> str:
    cfg = generate_config(tid, checkpoint_ns=ns)
    checkpoint = generate_checkpoint(channel_values=values, channel_versions={k: 1 for k in values})
    metadata = generate_metadata(run_id=run_id)
    stored = await saver.aput(cfg, checkpoint, metadata, {k: 1 for k in values})
    return str(stored["configurable"]["checkpoint_id"])


async def listed_by_saver(saver: OmiumSaver, tid: str) -> set[str]:
    return {t.config["configurable"]["checkpoint_id"] async for t in saver.alist(config(tid))}


async def listed_by_omium(log: EventLog, tid: str) -> set[str]:
    _, found = await history.checkpoints(log, tid)
    return {c.checkpoint_id for c in found}


async def forget(saver: OmiumSaver, tid: str, how: str) -> None:
    if how == "delete_thread":
        await saver.adelete_thread(tid)
    elif how == "prune_keep_latest":
        await saver.aprune([tid], strategy="keep_latest")
    elif how == "prune_delete":
        await saver.aprune([tid], strategy="delete")
    else:
        await saver.adelete_for_runs(["run-a"])


@pytest.mark.parametrize(
    "how", ["delete_thread", "prune_keep_latest", "prune_delete", "delete_for_runs"]
)
async def test_checkpoints__lists_what_the_saver_lists_after_a_tombstone(
    log: EventLog, how: str
) -> None:
    tid = f"lg-{uuid.uuid4().hex[:10]}"
    async with OmiumSaver(log) as saver:
        written = {
            await put(saver, tid, "", "run-a", k=1),
            await put(saver, tid, "", "run-b", k=2),
            await put(saver, tid, "child:1", "run-a", k=3),
            await put(saver, tid, "child:1", "run-b", k=4),
        }
        assert await listed_by_omium(log, tid) == await listed_by_saver(saver, tid) == written
        await forget(saver, tid, how)
        live = await listed_by_saver(saver, tid)
        assert live < written  # the tombstone forgot something
        assert await listed_by_omium(log, tid) == live
        after = await put(saver, tid, "", "run-a", k=5)  # a later checkpoint stays
        assert (
            await listed_by_omium(log, tid) == await listed_by_saver(saver, tid) == live | {after}
        )
    async with OmiumSaver(log) as fresh:  # a saver that reads the log from the start agrees
        assert await listed_by_saver(fresh, tid) == live | {after}
