"""Where alerts go besides the log: stderr, a file, a webhook; and the dispatcher.

A sink is one method, ``deliver(body)``, that raises :class:`DeliveryFailed` once it gives
up. The :class:`Dispatcher` delivers each alert in a task of its own, to every sink of its
rule at once, so a webhook that hangs or fails delays only its own deliveries (up to its
timeout × tries), never the stream nor other alerts; a delivery that failed for good is
recorded as ``alert.delivery_failed`` on the log.

The body (the webhook's JSON, the file's lines) is :func:`alert_body`: the alert's row
plus ``action`` (raised or resolved), ``tenant_id``, ``triggered_by`` and ``details``.
Webhooks get the header ``Idempotency-Key: <action>:<alert_id>``: a retried or redelivered
alert is the same alert.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import orjson

from omium.producers import EventLog
from omium.schemas import AlertDeliveryFailed, AlertRaised, AlertResolved, ConfigError, Event
from omium.schemas.alert_rules import FileSink as FileSpec
from omium.schemas.alert_rules import Rule
from omium.schemas.alert_rules import StderrSink as StderrSpec
from omium.schemas.alert_rules import WebhookSink as WebhookSpec

if TYPE_CHECKING:
    import httpx


class DeliveryFailed(Exception):  # noqa: N818 - named for what the sink reports
    """A sink gave up on an alert.

    Attributes:
        attempts: how many tries it made.
    """

    def __init__(self, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class Sink(Protocol):
    """Delivers alert bodies somewhere."""

    name: str

    async def deliver(self, body: dict[str, Any]) -> None:
        """Deliver one alert; raise :class:`DeliveryFailed` when giving up."""
        ...


def alert_body(event: AlertRaised | AlertResolved) -> dict[str, Any]:
    """What sinks are given for an alert event."""
    payload = event.payload
    return {
        "action": "raised" if isinstance(event, AlertRaised) else "resolved",
        "alert_id": payload.alert_id,
        "rule": payload.rule,
        "kind": payload.kind,
        "severity": event.payload.severity if isinstance(event, AlertRaised) else None,
        "tenant_id": event.tenant_id,
        "execution_id": event.execution_id,
        "attempt": event.attempt,
        "message": payload.message,
        "raised_at": event.ts.isoformat(),
        "triggered_by": [str(i) for i in payload.triggered_by],
        "details": event.payload.details if isinstance(event, AlertRaised) else {},
    }


class StderrSink:
    """One line per alert on a text stream (the worker's stderr)."""

    name = "stderr"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def deliver(self, body: dict[str, Any]) -> None:
        """Write the line."""
        severity = body["severity"] or "resolved"
        line = f"omium alert [{severity}] {body['rule']}: {body['message']} ({body['alert_id']})"
        print(line, file=self.stream or sys.stderr, flush=True)


class FileSink:
    """One JSON line per alert, appended to a file."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.name = f"file {path}"

    async def deliver(self, body: dict[str, Any]) -> None:
        """Append the line."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as out:
                out.write(orjson.dumps(body) + b"\n")
        except OSError as exc:
            raise DeliveryFailed(f"cannot write {self.path}: {exc.strerror}") from None


class WebhookSink:
    """A JSON POST per alert, retried with exponential backoff, at most 8 in flight."""

    def __init__(self, spec: WebhookSpec, client: httpx.AsyncClient, *, in_flight: int = 8) -> None:
        self.spec = spec
        self.client = client
        self.name = f"webhook {spec.url}"
        self._slots = asyncio.Semaphore(in_flight)

    async def deliver(self, body: dict[str, Any]) -> None:
        """POST ``body``; 2xx is delivered, anything else is retried, then given up."""
        spec, error = self.spec, ""
        tries = spec.retries + 1
        headers = {"Idempotency-Key": f"{body['action']}:{body['alert_id']}"}
        async with self._slots:
            for attempt in range(tries):
                if attempt:
                    await asyncio.sleep(spec.backoff * 2 ** (attempt - 1))
                try:
                    response = await self.client.post(
                        spec.url, json=body, headers=headers, timeout=spec.timeout
                    )
                except Exception as exc:  # noqa: BLE001 - any failed try is retried, then reported
                    error = f"{type(exc).__name__}: {exc}".rstrip(": ")
                    continue
                if response.is_success:
                    return
                error = f"HTTP {response.status_code}"
        raise DeliveryFailed(f"{spec.url}: {error} after {tries} tries", attempts=tries)


def sinks_for(rules: Sequence[Rule], stderr: TextIO | None = None) -> dict[str, list[Sink]]:
    """Each rule's sinks, one instance per distinct sink (so a webhook's slots are shared).

    The webhooks share one HTTP client, made here: making one loads the TLS certificates,
    about 0.2 s of blocking work that must not happen on the stream's loop per sink.

    Raises:
        ConfigError: a rule has a webhook and httpx is not installed.
    """
    made: dict[str, Sink] = {}
    out: dict[str, list[Sink]] = {}
    client: httpx.AsyncClient | None = None
    for rule in rules:
        for spec in rule.sinks:
            key = spec.model_dump_json()
            if key not in made:
                if isinstance(spec, StderrSpec):
                    made[key] = StderrSink(stderr)
                elif isinstance(spec, FileSpec):
                    made[key] = FileSink(spec.path)
                else:
                    client = client or http_client()
                    made[key] = WebhookSink(spec, client)
            out.setdefault(rule.name, []).append(made[key])
    return out


def http_client() -> httpx.AsyncClient:
    """The webhooks' HTTP client.

    httpx is imported here rather than at the top: importing it costs 0.2-0.6 s, which every
    ``omium`` command would pay (they import this module) for a sink few rules use.

    Raises:
        ConfigError: httpx is not installed.
    """
    try:
        import httpx
    except ImportError:  # pragma: no cover - the dev and gateway installs have it
        raise ConfigError(
            "webhook alert sinks need httpx", hint="pip install 'omium[gateway]'"
        ) from None
    return httpx.AsyncClient()


class Dispatcher:
    """Delivers alerts to their rules' sinks in the background (see the module docs)."""

    def __init__(
        self,
        log: EventLog,
        sinks: Mapping[str, Sequence[Sink]],
        done: Callable[[int], None],
    ) -> None:
        self.log = log
        self.sinks = sinks
        self.done = done
        self.failures = 0
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def submit(self, n: int, rule: str, event: Event) -> None:
        """Start delivering outbox row ``n`` (a no-op while it is in flight already)."""
        if n in self._tasks or not isinstance(event, AlertRaised | AlertResolved):
            return
        task = asyncio.create_task(self._deliver(n, rule, event))
        self._tasks[n] = task
        task.add_done_callback(lambda _: self._tasks.pop(n, None))

    async def _deliver(self, n: int, rule: str, event: AlertRaised | AlertResolved) -> None:
        body = alert_body(event)
        sinks = self.sinks.get(rule, ())
        results = await asyncio.gather(*(s.deliver(body) for s in sinks), return_exceptions=True)
        failed = [
            AlertDeliveryFailed.model_validate(
                {
                    "tenant_id": event.tenant_id,
                    "execution_id": event.execution_id,
                    "attempt": event.attempt,
                    "payload": {
                        "alert_id": event.payload.alert_id,
                        "rule": rule,
                        "sink": sink.name,
                        "attempts": getattr(result, "attempts", 1),
                        "error": str(result),
                    },
                }
            )
            for sink, result in zip(sinks, results, strict=True)
            if isinstance(result, BaseException)
        ]
        if failed:
            self.failures += len(failed)
            await self.log.append_batch(failed)
        self.done(n)

    @property
    def in_flight(self) -> int:
        """Deliveries not finished yet."""
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the deliveries in flight; cancel what is left."""
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
        clients = {
            id(s.client): s.client
            for group in self.sinks.values()
            for s in group
            if isinstance(s, WebhookSink)
        }
        for client in clients.values():
            await client.aclose()
