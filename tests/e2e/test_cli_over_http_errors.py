"""Each answer of a gateway maps to the omium error (and so the exit code) the CLI gives.

The gateway here is a hand-written fake (an ``httpx.MockTransport`` answering problem
details as ``omium serve`` does); the real one is in ``test_cli_over_http.py``.
"""

from __future__ import annotations

import httpx
import pytest

from omium.schemas import (
    ConfigError,
    Conflict,
    LogAccessDenied,
    LogError,
    LogUnavailable,
    NotFound,
    OmiumError,
)
from omium.services.client_http import HttpClient


def gateway(status: int, detail: str) -> HttpClient:
    """A client of a fake gateway that answers every request with ``status``."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"type": "https://omium.dev/problems/x", "title": "x", "status": status}
        return httpx.Response(status, json=body | {"detail": detail})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://gw/api/v1")
    return HttpClient(http, "http://gw")


@pytest.mark.parametrize(
    ("status", "error", "exit_code", "says"),
    [
        (404, NotFound, 2, "no execution 'x'"),
        (409, Conflict, 2, "no execution 'x'"),
        (422, ConfigError, 2, "no execution 'x'"),
        (413, ConfigError, 2, "no execution 'x'"),
        (401, LogAccessDenied, 2, "refused this request (401): no execution 'x'; set OMIUM"),
        (403, LogAccessDenied, 2, "refused this request (403)"),
        (429, LogUnavailable, 1, "no execution 'x'"),
        (503, LogUnavailable, 1, "no execution 'x'"),
        (500, LogError, 1, "the gateway at http://gw answered 500: no execution 'x'"),
    ],
)
async def test_status__maps_to_the_error_and_exit_code_of_the_cli(
    status: int, error: type[OmiumError], exit_code: int, says: str
) -> None:
    client = gateway(status, "no execution 'x'")
    with pytest.raises(error) as raised:
        await client.show("x")
    await client.http.aclose()
    assert type(raised.value) is error and raised.value.exit_code == exit_code
    assert says in str(raised.value) and "\n" not in str(raised.value)


async def test_log_read_of_an_unknown_execution__is_empty_as_over_the_log() -> None:
    client = gateway(404, "no execution 'x'")
    assert await client.records("x") == []
    await client.http.aclose()


async def test_durability__needs_a_direct_log() -> None:
    client = gateway(202, "")
    with pytest.raises(ConfigError, match="--durability needs a direct log"):
        await client.submit("flow", {}, durability="step")
    await client.http.aclose()
