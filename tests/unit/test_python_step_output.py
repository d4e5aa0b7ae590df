"""What a python step may return, and what the message says when it returns something else."""

from __future__ import annotations

from typing import Any

import pytest

from omium.adapters.python import ResolvedStep, StepOutputError, run_step


def returning(value: Any) -> ResolvedStep:
    def step(state: dict[str, Any]) -> Any:
        return value

    return ResolvedStep("s1", step, is_async=False)


async def test_run_step__a_dict_with_a_key_that_is_not_a_string_names_it() -> None:
    with pytest.raises(StepOutputError) as refused:
        await run_step(returning({"ok": 1, 1: "x"}), {}, None)
    assert str(refused.value) == (
        "step 's1' returned a dict whose keys are not all strings (e.g. 1, a int); "
        "the keys of a state update are str"
    )


async def test_run_step__not_a_dict_names_the_type() -> None:
    with pytest.raises(StepOutputError, match="step 's1' returned list; return a dict of state"):
        await run_step(returning([1]), {}, None)


async def test_run_step__none_is_no_update_and_a_dict_is_the_update() -> None:
    assert await run_step(returning(None), {}, None) == {}
    assert await run_step(returning({"a": 1}), {}, None) == {"a": 1}
