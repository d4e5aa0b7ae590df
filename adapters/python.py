"""Plain Python steps: resolve ``module:function`` and run it with a timeout.

A step is ``def step(state: dict) -> dict | None`` or its ``async`` twin. It gets a copy of
the accumulated state and returns the updates it made. Sync steps run on a worker thread:
a thread cannot be killed, so when a sync step times out or is cancelled omium stops
waiting, records why, and abandons the thread (its side effects may still land; give
steps an idempotency key, see :func:`idempotency_key`).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import importlib
import importlib.util
import inspect
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from omium.schemas.errors import InvalidSpec, StepAborted, StepOutputError, StepTimeout
from omium.schemas.workflow import WorkflowSpec

StepFunction = Callable[
    [dict[str, Any]], "dict[str, Any] | None | Awaitable[dict[str, Any] | None]"
]

_import_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ResolvedStep:
    """A spec step with its function imported and checked."""

    name: str
    function: StepFunction
    is_async: bool


def resolve_steps(spec: WorkflowSpec, folder: Path, filename: str) -> list[ResolvedStep]:
    """Import every step's function, relative to the workflow's ``folder``.

    Raises:
        InvalidSpec: a module is missing, a function is missing or has the wrong signature.
    """
    resolved = []
    folder = folder.resolve()
    found: dict[str, tuple[StepFunction, bool]] = {}  # a workflow may call one function often
    for index, step in enumerate(spec.steps):
        if step.call not in found:
            where = f"{filename}: steps[{index}].call"
            function = _import(step.call, folder, where)
            _check_signature(function, where)
            found[step.call] = (function, inspect.iscoroutinefunction(function))
        resolved.append(ResolvedStep(step.name, *found[step.call]))
    return resolved


def _import(call: str, folder: Path, where: str) -> StepFunction:
    function = import_attr(call, folder, where)
    if not callable(function):
        raise InvalidSpec(f"{where}: {call} is a {type(function).__name__}, not a function")
    return function  # type: ignore[no-any-return]


def import_attr(call: str, folder: Path, where: str) -> Any:
    """Import ``module:attribute``, a module file beside the workflow first.

    Raises:
        InvalidSpec: naming ``where`` (the spec field) and what is missing or failed.
    """
    module_name, _, attr = call.partition(":")
    with _import_lock:
        try:
            module = _load_module(module_name, folder)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise InvalidSpec(
                    f"{where}: no module {module_name!r} in {folder} or on the Python path"
                ) from None
            raise InvalidSpec(f"{where}: importing {module_name!r} failed: {exc}") from None
        except Exception as exc:  # the user's module raised while importing
            raise InvalidSpec(
                f"{where}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
            ) from None
    if not hasattr(module, attr):
        raise InvalidSpec(f"{where}: module {module_name!r} has no {attr!r}")
    return getattr(module, attr)


def _load_module(module_name: str, folder: Path) -> ModuleType:
    """A module file beside the workflow wins, loaded under a name unique to its path.

    Two workflows in different folders may both have a ``steps.py``; importing by name
    would hand the second one the first one's module.
    """
    if str(folder) not in sys.path:
        sys.path.append(str(folder))  # so step modules can import their siblings
    path = folder.joinpath(*module_name.split(".")).with_suffix(".py")
    if not path.is_file():
        return importlib.import_module(module_name)
    unique = f"omium_steps_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}_{path.stem}"
    module = sys.modules.get(unique)
    if module is None:
        spec = importlib.util.spec_from_file_location(unique, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[unique]
            raise
    return module


def _check_signature(function: Callable[..., object], where: str) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return  # builtins without a signature: trust them
    try:
        signature.bind({})
    except TypeError:
        raise InvalidSpec(
            f"{where}: a step takes one argument (the state dict), "
            f"but {function.__name__}{signature} does not"
        ) from None


async def run_step(
    step: ResolvedStep, state: Mapping[str, Any], timeout: float | None
) -> dict[str, Any]:
    """Call the step with a copy of ``state``; return its updates (``{}`` for ``None``)."""
    argument = dict(state)
    thread: threading.Thread | None = None
    if step.is_async:
        call: Awaitable[Any] = step.function(argument)  # type: ignore[assignment]
    else:
        call, thread = _in_thread(step.function, argument, step.name)
    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands as
    # the step finishes, and a cancel is how omium stops a run.
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            result = await call
    except TimeoutError:
        if deadline.expired():
            raise StepTimeout(step.name, timeout or 0, thread) from None
        raise  # the step's own TimeoutError
    except (SystemExit, KeyboardInterrupt) as exc:
        # a step must not take the worker (and every other run in it) down with it
        raise StepAborted(f"step {step.name!r} raised {type(exc).__name__}: {exc}") from None
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise StepOutputError(
            f"step {step.name!r} returned {type(result).__name__}; "
            "return a dict of state updates (str keys) or None"
        )
    _check_keys(step.name, result)
    return result


def _check_keys(name: str, result: dict[Any, Any]) -> None:
    """A state update's keys name state entries: strings, or the message names one that is not."""
    bad = [k for k in result if not isinstance(k, str)]
    if bad:
        raise StepOutputError(
            f"step {name!r} returned a dict whose keys are not all strings "
            f"(e.g. {bad[0]!r}, a {type(bad[0]).__name__}); the keys of a state update are str"
        )


def _in_thread(
    function: StepFunction, argument: dict[str, Any], name: str
) -> tuple[Awaitable[Any], threading.Thread]:
    """Run a sync step on a daemon thread; cancelling the await abandons the thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def target() -> None:
        try:
            result, error = function(argument), None
        except Exception as exc:
            result, error = None, exc
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt
            result = None
            error = StepAborted(f"step {name!r} raised {type(exc).__name__}: {exc}")
        try:
            loop.call_soon_threadsafe(_settle, future, result, error)
        except RuntimeError:
            pass  # the loop is gone: the step was abandoned and nobody waits for it

    # daemon: an abandoned step must not keep the process alive at exit; the step's
    # context goes with it (as asyncio.to_thread does): what records its calls is there
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(target,), name=f"omium-step-{name}", daemon=True
    )
    thread.start()
    return future, thread


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled or timed out: the result is dropped
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def idempotency_key(execution_id: str, attempt: int, step: str) -> str:
    """A key a step can pass to side effects so a re-run after a crash is recognised."""
    return f"{execution_id}:{attempt}:{step}"
