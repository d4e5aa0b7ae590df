"""``Refreshed``: the gateway's copy of the keys and the workflow registry, by its age."""

from __future__ import annotations

import asyncio

import pytest

from omium.services.refreshed import Refreshed


class Source:
    """A read that counts its calls and returns the value it is set to, when released."""

    def __init__(self) -> None:
        self.now = 100.0
        self.value = "v1"
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def read(self) -> str:
        self.reads += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return self.value

    def copy(self) -> Refreshed[str]:
        return Refreshed(self.read, fresh_s=1.0, max_age_s=3.0, clock=lambda: self.now)


async def test_get__reads_once_then_answers_from_the_copy_while_fresh() -> None:
    src = Source()
    copy = src.copy()
    assert await copy.get() == "v1"
    src.value, src.now = "v2", src.now + 0.9
    assert await copy.get() == "v1"
    assert src.reads == 1


async def test_get__past_fresh_answers_the_copy_at_once_and_reads_once_behind() -> None:
    src = Source()
    copy = src.copy()
    await copy.get()
    src.value, src.now = "v2", src.now + 2.0
    src.gate.clear()  # the read does not end until released: no request may wait for it
    assert [await copy.get() for _ in range(5)] == ["v1"] * 5
    await asyncio.sleep(0)  # the background read starts
    assert src.reads == 2  # one read in the background, whatever the number of requests
    src.gate.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await copy.get() == "v2"
    assert src.reads == 2


async def test_get__past_max_age_waits_for_one_shared_read() -> None:
    src = Source()
    copy = src.copy()
    await copy.get()
    src.value, src.now = "v2", src.now + 3.5
    src.gate.clear()
    waiting = [asyncio.ensure_future(copy.get()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiting)  # a copy this old is never answered
    src.gate.set()
    assert await asyncio.gather(*waiting) == ["v2"] * 3
    assert src.reads == 2


async def test_put__an_older_read_never_replaces_a_newer_copy() -> None:
    src = Source()
    copy = src.copy()
    copy.put("new", read_at=src.now)
    copy.put("old", read_at=src.now - 1)
    assert await copy.get() == "new" and src.reads == 0
    src.value = "fresh"
    assert await copy.fresh() == "fresh"  # read now, and kept
    assert await copy.get() == "fresh" and src.reads == 1


async def test_get__a_failed_background_read_keeps_the_copy_until_max_age() -> None:
    src = Source()
    copy = src.copy()
    await copy.get()
    src.fail, src.now = OSError("broker away"), src.now + 2.0
    assert await copy.get() == "v1"
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    src.now += 2.0  # now past max_age: the request waits and sees the error
    with pytest.raises(OSError, match="broker away"):
        await copy.get()
    src.fail = None
    assert await copy.get() == "v1" and src.reads == 4


def test_refreshed__refuses_a_max_age_below_fresh() -> None:
    with pytest.raises(ValueError, match="max_age_s"):
        Refreshed(Source().read, fresh_s=2.0, max_age_s=1.0)
