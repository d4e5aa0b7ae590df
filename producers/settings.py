"""One ``Settings`` object (environment variables prefixed ``OMIUM_``) and the log factory.

Nothing connects at import time: :func:`open_log` builds an adapter when asked, chosen by
the URL's scheme through a plain dict.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from omium.producers.port import EventLog
from omium.producers.sqlite import SqliteLog
from omium.schemas import DEFAULT_MAX_EVENT_BYTES, ConfigError


class Settings(BaseSettings):
    """omium's configuration; every field reads ``OMIUM_<NAME>`` from the environment.

    Attributes:
        home: where the embedded log and other local state live (git-ignore it).
        log_url: ``sqlite:///path``, ``sqlite:///:memory:`` or ``kafka://host:port[,…]``;
            unset means ``sqlite:///$OMIUM_HOME/log.db``.
        max_event_bytes: events encoding to more are refused.
        kafka_timeout: seconds any single wait on the broker may take.
        tenant_id: stamped on events this process records.
        api_max_body: the largest request body ``omium serve`` accepts (bytes; else 413).
        alerts: the alert rules file (unset: the default rules, ``infra/alerts.yaml``).
    """

    model_config = SettingsConfigDict(env_prefix="OMIUM_", extra="ignore")

    home: Path = Path(".omium")
    log_url: str | None = None
    max_event_bytes: int = Field(DEFAULT_MAX_EVENT_BYTES, gt=0)
    kafka_timeout: float = Field(10.0, gt=0)
    tenant_id: str = "default"
    api_max_body: int = Field(1 << 20, gt=0)
    alerts: Path | None = None

    @classmethod
    def load(cls) -> Settings:
        """Read the environment; a bad value is a ``ConfigError`` naming the variable."""
        try:
            return cls()
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            name = "OMIUM_" + "_".join(str(p) for p in first["loc"]).upper()
            raise ConfigError(f"{name} is invalid: {first['msg']}") from None

    def resolved_log_url(self) -> str:
        """The log URL in force (the embedded file under ``home`` by default)."""
        return self.log_url or f"sqlite:///{self.home / 'log.db'}"


def _sqlite(url: str, settings: Settings) -> EventLog:
    parts = urlsplit(url)
    if parts.netloc:
        raise ConfigError(
            f"{url!r} names a host; the embedded log is a file",
            hint="write sqlite:///relative/path.db or sqlite:////absolute/path.db",
        )
    path = parts.path[1:]
    if not path:
        raise ConfigError(f"{url!r} has no file path", hint="e.g. sqlite:///.omium/log.db")
    query = _query(url)
    return SqliteLog(
        path,
        url=url,
        max_event_bytes=settings.max_event_bytes,
        busy_timeout=float(query.get("busy_timeout", "30")),
        synchronous=_choice(
            url,
            "synchronous",
            query.get("synchronous", "NORMAL").upper(),
            ("OFF", "NORMAL", "FULL", "EXTRA"),
        ),
    )


def _kafka(url: str, settings: Settings) -> EventLog:
    try:
        from omium.producers.kafka import KafkaLog
    except ImportError:
        raise ConfigError(
            "the Kafka log needs aiokafka", hint="pip install 'omium[kafka]'"
        ) from None

    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigError(f"{url!r} names no broker", hint="e.g. kafka://127.0.0.1:19092")
    query = _query(url)
    return KafkaLog(
        parts.netloc,
        url=url,
        topic_prefix=query.get("topic_prefix", ""),
        timeout=float(query.get("timeout", settings.kafka_timeout)),
        max_event_bytes=settings.max_event_bytes,
        create_topics=query.get("create_topics", "true").lower() != "false",
        # how soon a dead worker's partitions move to the others (Kafka's minimum is 6 s)
        session_timeout=float(query.get("session_timeout", "10")),
    )


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _choice(url: str, name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{url!r}: {name}={value} is not one of {', '.join(allowed)}")
    return value


#: URL scheme -> adapter factory.
DRIVERS: dict[str, Callable[[str, Settings], EventLog]] = {"sqlite": _sqlite, "kafka": _kafka}


def open_log(url: str | None = None, settings: Settings | None = None) -> EventLog:
    """Build the event log for ``url`` (default: the settings' ``log_url``)."""
    settings = settings or Settings.load()
    url = url or settings.resolved_log_url()
    scheme = urlsplit(url).scheme
    driver = DRIVERS.get(scheme)
    if driver is None:
        raise ConfigError(
            f"unknown event log URL {url!r}",
            hint=f"OMIUM_LOG_URL must start with one of: {', '.join(f'{s}://' for s in DRIVERS)}",
        )
    try:
        return driver(url, settings)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"bad query parameter in {url!r}: {exc}") from None
