"""``GET /api/v1/executions/{id}/stream``: the execution's events as Server-Sent Events.

One SSE message per recorded event, ``id:`` its offset in the log (an execution's events
share one partition), ``event:`` its type, ``data:`` the record as ``/events`` gives it.
A client that reconnects with ``Last-Event-ID`` gets the events after that one: none lost,
none twice. The stream ends with an ``end`` message once the execution finished; a comment
line every 15 s keeps idle connections open through proxies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from omium.gateway.deps import OmiumDep
from omium.gateway.errors import RESPONSES
from omium.schemas import ConfigError
from omium.services import runs
from omium.services.models import RecordOut, dump

router = APIRouter(prefix="/api/v1/executions", tags=["executions"], responses=RESPONSES)

KEEPALIVE_S = 15.0


@router.get(
    "/{execution_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The events, live."}},
)
async def stream(
    omium: OmiumDep,
    request: Request,
    execution_id: str,
    last_event_id: Annotated[str, Header(pattern=r"^[0-9]*$", max_length=20)] = "",
) -> StreamingResponse:
    """Follow the execution's events live, from its first (or after ``Last-Event-ID``)."""
    after = _last_id(last_event_id)
    records = await runs.watch(omium, execution_id)  # a 404 comes before the stream starts
    return StreamingResponse(
        _messages(records, request, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _last_id(header: str) -> int:
    if header == "":
        return -1
    if not header.isdigit():
        raise ConfigError(
            f"Last-Event-ID {header!r} is not an id this stream sent",
            hint="send back the id: of the last message received",
        )
    return int(header)


async def _messages(
    events: AsyncGenerator[RecordOut, None], request: Request, after: int
) -> AsyncIterator[bytes]:
    quiet_since = time.monotonic()
    pending: asyncio.Future[RecordOut] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=1.0)
            if not done:
                if await request.is_disconnected():
                    return
                if time.monotonic() - quiet_since > KEEPALIVE_S:
                    quiet_since = time.monotonic()
                    yield b": keep-alive\n\n"
                continue
            pending = None
            try:
                out = done.pop().result()
            except StopAsyncIteration:
                yield b"event: end\ndata: {}\n\n"
                return
            if out.position.offset <= after:
                continue  # sent before the client reconnected
            quiet_since = time.monotonic()
            kind = (out.event or {}).get("type", "invalid")
            data = orjson.dumps(dump(out)).decode()
            yield f"id: {out.position.offset}\nevent: {kind}\ndata: {data}\n\n".encode()
    finally:
        if pending is not None:
            pending.cancel()
        await events.aclose()
