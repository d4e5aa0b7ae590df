"""Answering LLM and tool calls from a recording, and saying where code diverged from it.

Re-execution runs agent code again with every call it makes answered from the recorded
``llm.call`` / ``tool.call`` events, so a run reproduces at no LLM cost. One matcher serves
every framework:

- :class:`RecordedCalls` holds the recorded calls in queues (one, or one per agent with
  ``by="agent"``) and hands out the recorded payload of the call asked for: the next one of
  its queue (``any_order=False``), or any pending one with the same request (the nodes of a
  LangGraph superstep run concurrently and may call in another order);
- :class:`ReplaySink` is the :class:`~omium.producers.calls.CallSink` that answers the calls
  wrapped by :func:`~omium.producers.llm_call` / :func:`~omium.producers.tool_call`; it
  never calls the provider;
- :class:`Diverged` is raised at the first call the recording does not have.

A call is compared by its *shape*: ``{"kind": "llm"|"tool", "name": model or tool,
"request": request or arguments}``, both sides as plain JSON data. A framework whose
requests carry what changes on every run (LangGraph gives messages new ids) passes a
``semantic`` function: the requests are compared as it reduces them, on both sides.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from omium.producers.calls import Call
from omium.schemas import Event

#: what ``kind`` each recorded event type answers
_KINDS = {"llm.call": "llm", "tool.call": "tool"}

#: ``(kind, request as JSON) -> what of it is compared`` (see the module docs)
Semantic = Callable[[str, Any], Any]


def _as_is(kind: str, request: Any) -> Any:
    return request


class Diverged(BaseException):  # noqa: N818 - reads as what happened
    """Re-executed code asked for something the recording does not have.

    A ``BaseException`` so that code under re-execution (a step's ``except Exception``,
    crewai's agent retry loop) cannot swallow it and ask again.

    Attributes:
        where: which call or step (``agent 'Writer': call 2 (llm)``, ``step rank: output``).
        expected: what the recording has there (None: nothing more).
        actual: what the code asked or returned (None: it asked nothing more).
    """

    def __init__(self, where: str, expected: Any, actual: Any) -> None:
        super().__init__(f"{where}: {difference(expected, actual)}")
        self.where, self.expected, self.actual = where, expected, actual


class ScriptExhausted(BaseException):  # noqa: N818 - reads as what happened
    """A scripted model was asked for more answers than its script has.

    A ``BaseException``, like :class:`Diverged`, so an agent's retry loop cannot swallow it
    and ask again: the run stops at once with this one-line message.
    """


def normalized(value: Any) -> Any:
    """``value`` as plain JSON data, so recorded and live requests compare equal."""
    return json.loads(json.dumps(value, default=str))


def call_shape(
    kind: str, payload: Mapping[str, Any], semantic: Semantic = _as_is
) -> dict[str, Any]:
    """How a recorded call (``llm.call`` / ``tool.call`` payload) is compared."""
    if kind in ("llm", "llm.call"):
        name, request = payload.get("model"), payload.get("request")
    else:
        name, request = payload.get("tool"), payload.get("arguments")
    kind = _KINDS.get(kind, kind)
    return {"kind": kind, "name": name, "request": semantic(kind, normalized(request))}


def answer_of(kind: str, payload: Mapping[str, Any]) -> Any:
    """What a recorded call returned: the model's response or the tool's result."""
    return payload.get("response") if kind in ("llm", "llm.call") else payload.get("result")


class RecordedCalls:
    """The LLM and tool calls of a recorded run, handed out as the code asks for them.

    Args:
        calls: ``(event type, payload)`` pairs in log order; types other than ``llm.call``
            and ``tool.call`` are ignored.
        by: the payload field whose value names a call's queue (``"agent"``: each agent's
            calls in order, so agents may interleave); None: one queue.
        any_order: answer any pending call of the queue with the same shape, not only the
            next one.
        scope: prefix of every divergence's ``where`` (``"step rank"``).
        semantic: what of a request is compared (default: all of it); see the module docs.
    """

    def __init__(
        self,
        calls: Iterable[tuple[str, Mapping[str, Any]]],
        *,
        by: str | None = None,
        any_order: bool = False,
        scope: str = "",
        semantic: Semantic = _as_is,
    ) -> None:
        #: the payload field naming a call's queue (None: one queue)
        self.by = by
        self._any_order, self._scope, self._semantic = any_order, scope, semantic
        self._queues: dict[Any, deque[tuple[str, Mapping[str, Any]]]] = {}
        self._asked: dict[Any, int] = {}
        self._lock = threading.Lock()  # crewai asks from its own threads
        #: calls answered so far
        self.answered = 0
        #: the first divergence raised (code may catch it and go on, e.g. as a node error)
        self.diverged: Diverged | None = None
        for kind, payload in calls:
            if kind in _KINDS:
                key = payload.get(by) if by else None
                self._queues.setdefault(key, deque()).append((_KINDS[kind], payload))

    @classmethod
    def from_events(cls, events: Iterable[Event], **options: Any) -> RecordedCalls:
        """From logged events (``llm.call`` / ``tool.call`` of one attempt, in order)."""
        return cls(((e.type, e.payload.model_dump(mode="json")) for e in events), **options)

    def take(self, kind: str, name: str, request: Any, *, key: Any = None) -> Mapping[str, Any]:
        """The recorded payload of the call asked for (``key``: its queue, e.g. the agent).

        Raises:
            Diverged: the queue has no such call (next, or pending with ``any_order``).
        """
        asked = {"kind": kind, "name": name, "request": self._semantic(kind, normalized(request))}
        with self._lock:
            count = self._asked[key] = self._asked.get(key, 0) + 1
            where = self._where(key, f"call {count} ({kind})")
            queue = self._queues.get(key) or deque()
            for index, (had_kind, payload) in enumerate(queue):
                if call_shape(had_kind, payload, self._semantic) == asked:
                    if index == 0 or self._any_order:
                        del queue[index]
                        self.answered += 1
                        return payload
                    break
                if not self._any_order:
                    break
            if not queue:
                raise self._diverged(where, None, asked)
            how = "not in the recording" if self._any_order else "differs"
            shape = call_shape(*queue[0], self._semantic)
            raise self._diverged(f"{where} {how}", shape, asked)

    def remaining(self) -> list[tuple[str, Mapping[str, Any]]]:
        """The recorded calls no one asked for (yet), as ``(kind, payload)``."""
        with self._lock:
            return [call for queue in self._queues.values() for call in queue]

    def check_all_used(self) -> None:
        """Raise :class:`Diverged` naming the first recorded call that was not made."""
        left = self.remaining()
        if left:
            kind, payload = left[0]
            key = payload.get(self.by) if self.by else None
            where = self._where(key, f"{len(left)} recorded call(s) were not made")
            raise self._diverged(where, call_shape(kind, payload, self._semantic), None)

    def _where(self, key: Any, what: str) -> str:
        parts = [self._scope] if self._scope else []
        if self.by is not None:
            parts.append(f"{self.by} {key!r}")
        return ": ".join([*parts, what])

    def _diverged(self, where: str, expected: Any, actual: Any) -> Diverged:
        diverged = Diverged(where, expected, actual)
        self.diverged = self.diverged or diverged
        return diverged


class ReplaySink:
    """A :class:`~omium.producers.calls.CallSink` that answers from :class:`RecordedCalls`.

    ``fn`` (the provider) is never called.
    """

    def __init__(self, calls: RecordedCalls) -> None:
        self.calls = calls

    async def call(self, kind: str, name: str, request: Any, fn: Call, **extra: Any) -> Any:
        """See :class:`~omium.producers.calls.CallSink`."""
        key = extra.get(self.calls.by) if self.calls.by else None
        payload = self.calls.take(kind, name, request, key=key)
        return answer_of(kind, payload)


def difference(expected: Any, actual: Any) -> str:
    """One line: where the two sides first differ, with a short excerpt of each."""
    if expected is None:
        return f"the recording has no more calls, the code asked {_excerpt(actual, 0)}"
    if actual is None:
        return f"the recording has {_excerpt(expected, 0)}"
    left = json.dumps(expected, sort_keys=True, default=str)
    right = json.dumps(actual, sort_keys=True, default=str)
    at = next((i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b), None)
    at = min(len(left), len(right)) if at is None else at
    return f"recorded {_excerpt(left, at)} but the code asked {_excerpt(right, at)}"


def _excerpt(value: Any, at: int, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    start = max(0, at - width // 2)
    part = text[start : start + width]
    return f"{'…' if start else ''}{part}{'…' if start + width < len(text) else ''}"
