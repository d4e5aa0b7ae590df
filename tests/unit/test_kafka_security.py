"""Kafka connection security from the URL and the settings; how a URL is shown (no broker)."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omium.producers import KafkaSecurity, Settings, mask_url, open_log, public_url
from omium.producers.kafka_security import resolve_security, url_password
from omium.schemas import ConfigError

SECRET = "s3cr3t:with@odd/chars"
QUOTED = "s3cr3t%3Awith%40odd%2Fchars"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith("OMIUM_KAFKA_"):
            monkeypatch.delenv(name)
    return Settings()


@pytest.fixture
def ca() -> Path:
    """A CA bundle to trust (the system's: any readable PEM will do)."""
    paths = ssl.get_default_verify_paths()
    found = next((p for p in (paths.cafile, paths.openssl_cafile) if p and Path(p).is_file()), None)
    if found is None:
        pytest.skip("no system CA bundle")
    return Path(found)


def test_mask_url__hides_only_the_password() -> None:
    url = f"kafka://alice:{QUOTED}@b1:9096,b2:9096?security_protocol=SASL_SSL"
    assert mask_url(url) == "kafka://alice:***@b1:9096,b2:9096?security_protocol=SASL_SSL"
    assert public_url(url) == "kafka://alice@b1:9096,b2:9096?security_protocol=SASL_SSL"
    assert mask_url("kafka://b1:9092") == "kafka://b1:9092"
    assert public_url("kafka://alice@b1:9092") == "kafka://alice@b1:9092"


def test_resolve__defaults_to_plaintext(settings: Settings) -> None:
    assert resolve_security("kafka://b1:9092", settings) == KafkaSecurity()
    assert KafkaSecurity().client_options() == {"security_protocol": "PLAINTEXT"}


def test_resolve__a_user_means_scram_512_over_tls(settings: Settings) -> None:
    security = resolve_security(f"kafka://alice:{QUOTED}@b1:9096", settings)
    assert (security.protocol, security.mechanism, security.username) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "alice",
    )
    assert security.password is not None and security.password.get_secret_value() == SECRET
    options = security.client_options()
    assert options["sasl_plain_password"] == SECRET
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname  # on unless switched off
    assert SECRET not in repr(security) and SECRET not in security.describe()


def test_resolve__the_url_wins_over_the_settings(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, ca: Path
) -> None:
    monkeypatch.setenv("OMIUM_KAFKA_USERNAME", "env-user")
    monkeypatch.setenv("OMIUM_KAFKA_PASSWORD", "env-password")
    monkeypatch.setenv("OMIUM_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("OMIUM_KAFKA_SSL_CAFILE", str(ca))
    from_env = resolve_security("kafka://b1:9096", Settings())
    assert (from_env.username, from_env.mechanism, from_env.cafile) == (
        "env-user",
        "PLAIN",
        str(ca),
    )
    assert from_env.password is not None
    assert from_env.password.get_secret_value() == "env-password"
    url = "kafka://url-user:url-pw@b1:9096?sasl_mechanism=scram-sha-256&ssl_check_hostname=false"
    from_url = resolve_security(url, Settings())
    assert (from_url.username, from_url.mechanism) == ("url-user", "SCRAM-SHA-256")
    assert from_url.password is not None and from_url.password.get_secret_value() == "url-pw"
    assert from_url.check_hostname is False
    assert from_url.ssl_context() is not None
    assert not from_url.ssl_context().check_hostname  # type: ignore[union-attr]


def test_resolve__password_file(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(SECRET + "\n")
    security = resolve_security(f"kafka://alice@b1:9096?password_file={tmp_path}/pw", settings)
    assert security.password is not None and security.password.get_secret_value() == SECRET


def test_resolve__tls_files_alone_mean_ssl(settings: Settings, ca: Path) -> None:
    security = resolve_security(f"kafka://b1:9093?ssl_cafile={ca}", settings)
    assert (security.protocol, security.mechanism, security.username) == ("SSL", None, None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"kafka://alice:{QUOTED}@b1:9096?security_protocol=TLS", "security_protocol=TLS"),
        (f"kafka://alice:{QUOTED}@b1:9096?sasl_mechanism=GSSAPI", "sasl_mechanism=GSSAPI"),
        ("kafka://b1:9096?security_protocol=SASL_SSL", "needs a user"),
        ("kafka://alice@b1:9096", "has no password"),
        ("kafka://alice@b1:9096?password_file=/no/such/file", "cannot read the Kafka password"),
        (f"kafka://alice:{QUOTED}@b1:9096?ssl_cafile=/no/such/ca.pem", "cannot load the Kafka"),
    ],
)
def test_resolve__bad_settings_are_config_errors_that_mask_the_password(
    settings: Settings, url: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_security(url, settings)
    assert SECRET not in str(caught.value) and QUOTED not in str(caught.value)
    assert "\n" not in str(caught.value) and caught.value.hint


def test_open_log__shows_the_url_without_its_password(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMIUM_KAFKA_PASSWORD", "restored-after-the-test")
    log = open_log(f"kafka://alice:{QUOTED}@b1:9096?topic_prefix=x.", settings)
    assert log.url == "kafka://alice@b1:9096?topic_prefix=x."
    # a process it starts finds the password where the URL no longer has it
    assert os.environ["OMIUM_KAFKA_PASSWORD"] == SECRET


def test_settings__repr_and_errors_never_show_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMIUM_KAFKA_PASSWORD", SECRET)
    assert SECRET not in repr(Settings()) and SECRET not in str(Settings().model_dump())
    with pytest.raises(ConfigError) as caught:
        open_log(f"nats://alice:{QUOTED}@b1:4222")
    assert QUOTED not in str(caught.value) and "alice:***@" in str(caught.value)


@given(
    password=st.text(min_size=8, max_size=40).filter(lambda p: p.strip() == p),
    user=st.from_regex(r"[a-z][a-z0-9._-]{0,15}", fullmatch=True),
)
def test_mask_url__never_shows_any_password(password: str, user: str) -> None:
    rest = "b1.example.net:9096,b2.example.net:9096?topic_prefix=t."
    url = f"kafka://{user}:{quote(password, safe='')}@{rest}"
    assert url_password(url) == password
    assert mask_url(url) == f"kafka://{user}:***@{rest}"
    assert public_url(url) == f"kafka://{user}@{rest}"
