"""Choosing the log by URL, and clear errors for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from omium.producers import (
    BrokerCluster,
    LiveMembers,
    LocalFile,
    RunsInline,
    Settings,
    open_log,
)
from omium.producers.kafka import KafkaLog
from omium.producers.sqlite import SqliteLog
from omium.schemas import ConfigError


def test_default__is_the_embedded_log_under_omium_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMIUM_LOG_URL", raising=False)
    monkeypatch.setenv("OMIUM_HOME", str(tmp_path / "home"))
    log = open_log()
    assert isinstance(log, SqliteLog)
    assert Path(log.path) == tmp_path / "home" / "log.db"
    assert (tmp_path / "home" / "log.db").exists()


def test_sqlite_url__relative_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_log("sqlite:///data/log.db")
    assert isinstance(relative, SqliteLog) and relative.path == "data/log.db"
    absolute = open_log(f"sqlite:///{tmp_path}/abs.db")
    assert isinstance(absolute, SqliteLog) and absolute.path == f"{tmp_path}/abs.db"


def test_kafka_url__takes_brokers_prefix_and_timeout() -> None:
    log = open_log("kafka://h1:9092,h2:9092?topic_prefix=dev.&timeout=3")
    assert isinstance(log, KafkaLog)
    assert log.bootstrap == "h1:9092,h2:9092"
    assert log.physical("omium.events") == "dev.omium.events"
    assert log.timeout == 3.0


def test_capabilities__each_log_offers_what_it_can() -> None:
    embedded = open_log("sqlite:///:memory:")
    assert isinstance(embedded, LocalFile) and embedded.path == ":memory:"
    assert isinstance(embedded, LiveMembers) and isinstance(embedded, RunsInline)
    assert not isinstance(embedded, BrokerCluster)
    kafka = open_log("kafka://h1:9092?topic_prefix=dev.")
    assert isinstance(kafka, BrokerCluster) and (kafka.bootstrap, kafka.prefix) == (
        "h1:9092",
        "dev.",
    )
    assert not isinstance(kafka, LocalFile | LiveMembers | RunsInline)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://x/y", "unknown event log URL 'postgres://x/y'; OMIUM_LOG_URL must start"),
        ("sqlite://host/path.db", "names a host"),
        ("sqlite:///", "has no file path"),
        ("sqlite:///x.db?synchronous=SOMETIMES", "synchronous=SOMETIMES is not one of"),
        ("sqlite:///x.db?busy_timeout=soon", "bad query parameter"),
        ("kafka://", "names no broker"),
    ],
)
def test_bad_url__is_one_clear_line(
    url: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        open_log(url)
    assert message in str(caught.value)


def test_bad_environment_value__names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMIUM_MAX_EVENT_BYTES", "lots")
    with pytest.raises(ConfigError, match="OMIUM_MAX_EVENT_BYTES is invalid"):
        Settings.load()


def test_max_event_bytes__reaches_the_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMIUM_MAX_EVENT_BYTES", "2048")
    log = open_log("sqlite:///:memory:")
    assert isinstance(log, SqliteLog) and log.max_event_bytes == 2048
