"""The :class:`~omium.services.client_port.Client` through a running ``omium serve``.

Each use case is one request to ``/api/v1`` (httpx); following a run is its Server-Sent
Events stream, reconnected with ``Last-Event-ID`` when it ends early. Problem details
come back as the omium error of their status, with the gateway's ``detail`` — which is the
message the use case raised there — so the CLI prints the same line and exits with the
same code as over the log:

======================  ==================================  ====
status                  raised                              exit
======================  ==================================  ====
404                     ``NotFound``                        2
409                     ``Conflict``                        2
400, 413, 422           ``ConfigError``                     2
401, 403                ``LogAccessDenied`` (the key)        2
429, 503, unreachable   ``LogUnavailable`` (retriable)      1
other                   ``LogError``                        1
======================  ==================================  ====
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel, TypeAdapter

from omium.projections import ExecutionView, fold
from omium.schemas import (
    ConfigError,
    Conflict,
    Event,
    ExecutionFailed,
    LogAccessDenied,
    LogError,
    LogUnavailable,
    NotFound,
    OmiumError,
    from_dict,
)
from omium.services.alerts import AlertRow
from omium.services.client_port import Notify, OnEvent, Submission, quiet
from omium.services.history_models import CheckpointOut, DiffOut, ReplayOut, RollbackOut
from omium.services.local import run_error
from omium.services.models import (
    ExecutionOut,
    ExecutionPage,
    ExecutionSummary,
    RecordOut,
    RunResult,
    Steered,
    Submitted,
    WorkflowOut,
)

M = TypeVar("M", bound=BaseModel)

#: seconds to connect, and to wait for an answer (a stream waits longer: keep-alives)
CONNECT_S, ANSWER_S, STREAM_S = 5.0, 30.0, 60.0
#: the largest page the API serves
PAGE = 500
#: what a refused rollback's resumption says (``processors.execution``)
REFUSED = "rollback refused"

_ERRORS: dict[int, type[OmiumError]] = {
    400: ConfigError,
    404: NotFound,
    409: Conflict,
    413: ConfigError,
    422: ConfigError,
    429: LogUnavailable,
    503: LogUnavailable,
}


class HttpClient:
    """The use cases of the CLI over the REST API at ``base`` (see the module docstring)."""

    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http, self.base = http, base

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, key: str | None = None) -> AsyncIterator[HttpClient]:
        """A client of the gateway at ``url`` (with or without ``/api/v1``), bearing ``key``."""
        base = url.rstrip("/").removesuffix("/api/v1")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        timeout = httpx.Timeout(ANSWER_S, connect=CONNECT_S)
        async with httpx.AsyncClient(
            base_url=f"{base}/api/v1", headers=headers, timeout=timeout
        ) as http:
            yield cls(http, base)

    @property
    def where(self) -> str:
        """See :class:`~omium.services.client_port.Client`."""
        return self.base

    # --- requests -----------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise LogUnavailable(
                f"cannot reach the gateway at {self.base}: {_reason(exc)}",
                hint="is `omium serve` running there? (OMIUM_API_URL)",
            ) from None
        except httpx.TimeoutException:
            raise LogUnavailable(f"the gateway at {self.base} did not answer in time") from None
        except httpx.TransportError as exc:
            raise LogUnavailable(f"the gateway at {self.base} failed: {_reason(exc)}") from None
        if response.is_error:
            raise self._error(response)
        return response

    def _error(self, response: httpx.Response) -> OmiumError:
        try:
            detail = str(response.json()["detail"])
        except (ValueError, KeyError, TypeError):
            detail = response.text.strip()[:200] or response.reason_phrase
        status = response.status_code
        if status in (401, 403):
            return LogAccessDenied(
                f"the gateway at {self.base} refused this request ({status}): {detail}",
                hint="set OMIUM_API_KEY to a key allowed to do it (`omium keys create`)",
            )
        kind = _ERRORS.get(status)
        if kind is not None:
            return kind(detail)
        return LogError(f"the gateway at {self.base} answered {status}: {detail}")

    async def _get(self, model: type[M], path: str, **params: Any) -> M:
        response = await self._send("GET", path, params=_present(params))
        return model.model_validate_json(response.content)

    async def _list(self, model: type[M], path: str, **params: Any) -> list[M]:
        response = await self._send("GET", path, params=_present(params))
        return TypeAdapter(list[model]).validate_json(response.content)  # type: ignore[valid-type]

    # --- the use cases ------------------------------------------------------------------

    async def submit(
        self,
        name: str,
        inputs: Mapping[str, Any],
        *,
        execution_id: str | None = None,
        durability: str | None = None,
    ) -> Submission:
        """See :class:`~omium.services.client_port.Client`."""
        if durability is not None:
            raise ConfigError(
                "--durability needs a direct log: the API runs a workflow as registered",
                hint="leave it out, or set the workflow's `durability` and register it again",
            )
        body = {"workflow": name, "inputs": dict(inputs), "execution_id": execution_id}
        response = await self._send("POST", "/executions", json=body)
        done = Submitted.model_validate_json(response.content)
        return Submission(done.execution_id, done.workflow, None)

    async def no_worker(self) -> bool:
        """See :class:`~omium.services.client_port.Client`: the API does not say."""
        return False

    async def follow_run(
        self, execution_id: str, *, on_event: OnEvent = None, notify: Notify = quiet
    ) -> RunResult:
        """See :class:`~omium.services.client_port.Client`: the run's SSE stream."""
        view = ExecutionView(execution_id=execution_id)
        failed: ExecutionFailed | None = None
        async with aclosing(self._positioned(execution_id)) as events:
            async for event, _ in events:
                view = fold([event], view)
                failed = event if isinstance(event, ExecutionFailed) else failed
                if on_event is not None:
                    on_event(event)
                if view.finished:
                    break
        return RunResult(
            execution_id=execution_id,
            status=view.status,
            attempt=view.attempt,
            output=view.output,
            error=run_error(view, failed),
        )

    async def show(self, execution_id: str) -> ExecutionOut:
        """See :class:`~omium.services.client_port.Client`."""
        return await self._get(ExecutionOut, _at(execution_id))

    async def executions(self, status: str | None = None) -> list[ExecutionSummary]:
        """See :class:`~omium.services.client_port.Client`: every page, oldest first."""
        found: list[ExecutionSummary] = []
        cursor: str | None = None
        while True:
            page = await self._get(
                ExecutionPage, "/executions", status=status, limit=PAGE, cursor=cursor
            )
            found += page.executions
            cursor = page.next_cursor
            if cursor is None:
                break
        # as the readers order them: by submission, an execution not yet submitted last
        return sorted(found, key=lambda e: (e.submitted_at is None, e.submitted_at, e.execution_id))

    async def page(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ExecutionPage:
        """See :class:`~omium.services.client_port.Client`."""
        return await self._get(
            ExecutionPage,
            "/executions",
            status=status,
            workflow=workflow,
            limit=limit,
            cursor=cursor,
        )

    async def steer(self, execution_id: str, kind: str, **payload: Any) -> Steered:
        """See :class:`~omium.services.client_port.Client`."""
        body = {k: v for k, v in payload.items() if v is not None}
        response = await self._send("POST", f"{_at(execution_id)}/{kind}", json=body)
        after = ExecutionOut.model_validate_json(response.content)
        return Steered(execution_id=execution_id, command=kind, status=after.status)

    async def rollback(
        self,
        execution_id: str,
        checkpoint_id: str,
        overrides: Mapping[str, Any],
        *,
        added: Mapping[str, Any] | None = None,
        as_node: str | None = None,
        wait: bool = False,
        on_event: OnEvent = None,
        notify: Notify = quiet,
    ) -> RollbackOut:
        """See :class:`~omium.services.client_port.Client`.

        ``wait`` follows the stream until the new attempt ended, or its rollback was
        refused (an ``execution.resumed`` recorded after the request saying so).
        """
        before = await self.records(execution_id) if wait else []
        body = {
            "checkpoint": checkpoint_id,
            "set": dict(overrides),
            "add": dict(added or {}),
            "as_node": as_node,
        }
        response = await self._send("POST", f"{_at(execution_id)}/rollback", json=body)
        requested = RollbackOut.model_validate_json(response.content)
        if not wait:
            return requested
        due, last = requested.attempt, before[-1].position.offset if before else -1
        view = ExecutionView(execution_id=execution_id)
        status: str | None = None
        async with aclosing(self._positioned(execution_id)) as events:
            async for event, offset in events:
                view = fold([event], view)
                if on_event is not None and (
                    event.attempt >= due or event.type == "execution.resumed"
                ):
                    on_event(event)
                if view.attempt >= due:
                    status = view.status if view.finished else None
                elif offset > last and _refusal(event):
                    status = "refused"
                if status is not None:
                    break
        return requested.model_copy(update={"status": status})

    async def checkpoints(
        self, execution_id: str, attempt: int | None = None
    ) -> list[CheckpointOut]:
        """See :class:`~omium.services.client_port.Client`."""
        return await self._list(CheckpointOut, f"{_at(execution_id)}/checkpoints", attempt=attempt)

    async def replay(
        self,
        execution_id: str,
        *,
        to_offset: int | None = None,
        to_seq: int | None = None,
        to_checkpoint: str | None = None,
        to_time: datetime | None = None,
        attempt: int | None = None,
        verify: bool = False,
    ) -> ReplayOut:
        """See :class:`~omium.services.client_port.Client`."""
        return await self._get(
            ReplayOut,
            f"{_at(execution_id)}/replay",
            to_offset=to_offset,
            to_seq=to_seq,
            to_checkpoint=to_checkpoint,
            to_time=to_time.isoformat() if to_time else None,
            attempt=attempt,
            verify=verify or None,
        )

    async def diff(self, execution_id: str, first: str, second: str) -> DiffOut:
        """See :class:`~omium.services.client_port.Client`."""
        return await self._get(DiffOut, f"{_at(execution_id)}/diff", a=first, b=second)

    async def records(
        self, execution_id: str, *, start: int = 0, end: int | None = None
    ) -> list[RecordOut]:
        """See :class:`~omium.services.client_port.Client`."""
        try:
            found = await self._list(RecordOut, f"{_at(execution_id)}/events")
        except NotFound:  # the log holds no record of it: as reading the log says
            return []
        return [
            r
            for r in found
            if r.position.offset >= start and (end is None or r.position.offset < end)
        ]

    async def tail(
        self,
        execution_id: str,
        *,
        from_beginning: bool = False,
        max_events: int | None = None,
        idle: float | None = None,
    ) -> AsyncIterator[RecordOut]:
        """See :class:`~omium.services.client_port.Client`: the stream, reconnected."""
        after = -1
        if not from_beginning:
            known = await self.records(execution_id)
            after = known[-1].position.offset if known else -1
        seen, last = 0, time.monotonic()
        while max_events is None or seen < max_events:
            async with aclosing(self._stream(execution_id, after)) as records:
                async for record in records:
                    after, last, seen = record.position.offset, time.monotonic(), seen + 1
                    yield record
                    if max_events is not None and seen >= max_events:
                        return
            if idle is not None and time.monotonic() - last > idle:
                return
            await asyncio.sleep(0.5)  # the execution ended: look again, as a tail does

    async def workflows(self) -> list[WorkflowOut]:
        """See :class:`~omium.services.client_port.Client`."""
        return await self._list(WorkflowOut, "/workflows")

    async def alerts_of(self, execution_id: str) -> list[AlertRow]:
        """See :class:`~omium.services.client_port.Client`."""
        return await self._list(AlertRow, "/alerts", execution_id=execution_id)

    # --- the stream ---------------------------------------------------------------------

    async def _stream(self, execution_id: str, after: int = -1) -> AsyncGenerator[RecordOut, None]:
        """The records of one connection to the stream after offset ``after``, to its end."""
        headers = {"Last-Event-ID": str(after)} if after >= 0 else {}
        timeout = httpx.Timeout(STREAM_S, connect=CONNECT_S)
        try:
            async with self.http.stream(
                "GET", f"{_at(execution_id)}/stream", headers=headers, timeout=timeout
            ) as response:
                if response.is_error:
                    await response.aread()
                    raise self._error(response)
                data = ""
                async for line in response.aiter_lines():
                    if line.startswith("event: end"):
                        return
                    if line.startswith("data: "):
                        data = line[6:]
                    elif not line and data:
                        yield RecordOut.model_validate(orjson.loads(data))
                        data = ""
        except httpx.ConnectError as exc:
            raise LogUnavailable(
                f"cannot reach the gateway at {self.base}: {_reason(exc)}",
                hint="is `omium serve` running there? (OMIUM_API_URL)",
            ) from None
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout):
            return  # cut: the caller reconnects after the last record it got

    async def _positioned(self, execution_id: str) -> AsyncGenerator[tuple[Event, int], None]:
        """Every event of the execution and its offset, live, reconnecting when cut."""
        after = -1
        while True:
            async with aclosing(self._stream(execution_id, after)) as records:
                async for record in records:
                    after = record.position.offset
                    if record.event is not None:
                        yield from_dict(record.event), after
            await asyncio.sleep(0.1)  # the stream ended (or was cut) early: look again


def _at(execution_id: str) -> str:
    return f"/executions/{quote(execution_id, safe='')}"


def _present(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _refusal(event: Event) -> bool:
    reason = getattr(event.payload, "reason", None)
    return event.type == "execution.resumed" and str(reason or "").startswith(REFUSED)


def _reason(exc: BaseException) -> str:
    """The socket's error under httpx's (which can be "All connection attempts failed")."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    text = str(exc) or type(exc).__name__
    return "connection refused" if "refused" in text.lower() else text.splitlines()[0]
