"""How omium connects to a Kafka cluster: TLS and SASL, from the log URL and the settings.

One :class:`KafkaSecurity` is resolved per log (:func:`resolve_security`) and handed to
every client omium makes for it: aiokafka's producer, consumers and admin client
(:meth:`KafkaSecurity.client_options`) and the faust processors (the same options). The
URL's values win over the settings (``OMIUM_KAFKA_*``)::

    kafka://USER[:PASSWORD]@host:9096,host2:9096?security_protocol=SASL_SSL
        &sasl_mechanism=SCRAM-SHA-512&ssl_cafile=/path/ca.pem&password_file=/path/pw

Defaults: SASL_SSL with SCRAM-SHA-512 when a user is named, SSL when only TLS files are,
else PLAINTEXT; hostname verification on. Secrets never leave this object as text:
``password`` is a ``SecretStr`` and :func:`mask_url` / :func:`public_url` are how a URL
is shown. Nothing here connects; files (CA, certificate, key, password) are read when the
security is resolved, so a wrong path is a ``ConfigError`` before any connection.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from pydantic import SecretStr

from omium.schemas import ConfigError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: what a password is shown as
MASK = "***"


class SecuritySettings(Protocol):
    """The ``OMIUM_KAFKA_*`` fields of :class:`~omium.producers.settings.Settings`."""

    kafka_security_protocol: str | None
    kafka_sasl_mechanism: str | None
    kafka_username: str | None
    kafka_password: SecretStr | None
    kafka_password_file: str | None
    kafka_ssl_cafile: str | None
    kafka_ssl_certfile: str | None
    kafka_ssl_keyfile: str | None
    kafka_ssl_check_hostname: bool


@dataclass(frozen=True)
class KafkaSecurity:
    """Connection security for every client of one cluster.

    Attributes:
        protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
        mechanism: the SASL mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), or None.
        username: the SASL user, or None.
        password: the SASL password (never printed; see ``describe``).
        cafile: the CA bundle (PEM) trusted for the brokers' certificates; None means the
            system's trust store (what managed clusters with public certificates need).
        certfile: the client certificate (PEM) for mutual TLS, or None.
        keyfile: its private key (PEM); None when ``certfile`` holds both.
        check_hostname: verify that a broker's certificate names the host connected to.
    """

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    check_hostname: bool = True

    @property
    def tls(self) -> bool:
        """Whether the connection is encrypted."""
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        """Whether the client authenticates with SASL."""
        return self.protocol.startswith("SASL_")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A fresh TLS context for this cluster (None without TLS)."""
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=self.cafile)
            if self.certfile:
                context.load_cert_chain(self.certfile, self.keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the Kafka TLS files ({self._files()}): {exc}",
                hint="ssl_cafile, ssl_certfile and ssl_keyfile must be readable PEM files",
            ) from None
        context.check_hostname = self.check_hostname
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumers and admin client."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl:
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = (
                self.password.get_secret_value() if self.password else None
            )
        return options

    def describe(self) -> str:
        """One line for messages: protocol, mechanism and user, never the password."""
        if not self.sasl:
            return self.protocol
        return f"{self.protocol} {self.mechanism} as user {self.username!r}"

    def _files(self) -> str:
        named = [("ssl_cafile", self.cafile), ("ssl_certfile", self.certfile)]
        named.append(("ssl_keyfile", self.keyfile))
        return ", ".join(f"{k}={v}" for k, v in named if v) or "system CAs"


def resolve_security(url: str, settings: SecuritySettings) -> KafkaSecurity:
    """The security of a ``kafka://`` URL, filled in from ``settings`` (``OMIUM_KAFKA_*``).

    Args:
        url: the log URL; its userinfo and query parameters win over the settings.
        settings: an :class:`~omium.producers.settings.Settings` (its ``kafka_*`` fields).

    Raises:
        ConfigError: an unknown protocol or mechanism, a user without a password, a file
            that cannot be read; the message shows the URL with its password masked.
    """
    parts, query = urlsplit(url), _query(url)
    shown = mask_url(url)
    username = unquote(parts.username) if parts.username else settings.kafka_username
    password = _password(parts, query, settings, shown)
    cafile = query.get("ssl_cafile", settings.kafka_ssl_cafile)
    certfile = query.get("ssl_certfile", settings.kafka_ssl_certfile)
    keyfile = query.get("ssl_keyfile", settings.kafka_ssl_keyfile)
    default = "SASL_SSL" if username else ("SSL" if cafile or certfile else "PLAINTEXT")
    protocol = _pick(
        shown, "security_protocol", query, settings.kafka_security_protocol, default, PROTOCOLS
    )
    mechanism = None
    if protocol.startswith("SASL_"):
        mechanism = _pick(
            shown, "sasl_mechanism", query, settings.kafka_sasl_mechanism, "SCRAM-SHA-512",
            MECHANISMS,
        )  # fmt: skip
        if not username:
            raise ConfigError(
                f"{shown}: security_protocol={protocol} needs a user",
                hint="put it in the URL (kafka://USER@host:port) or set OMIUM_KAFKA_USERNAME",
            )
        if password is None:
            raise ConfigError(
                f"{shown}: Kafka user {username!r} has no password",
                hint="set OMIUM_KAFKA_PASSWORD or OMIUM_KAFKA_PASSWORD_FILE, or add "
                "password_file=/path to the URL",
            )
    check = query.get("ssl_check_hostname", str(settings.kafka_ssl_check_hostname)).lower()
    security = KafkaSecurity(
        protocol=protocol,
        mechanism=mechanism,
        username=username if mechanism else None,
        password=password if mechanism else None,
        cafile=cafile,
        certfile=certfile,
        keyfile=keyfile,
        check_hostname=check not in ("false", "0", "no"),
    )
    security.ssl_context()  # a missing or unreadable file fails here, before any connection
    return security


def url_password(url: str) -> str | None:
    """The password in a URL's userinfo, decoded (None if it has none)."""
    password = urlsplit(url).password
    return unquote(password) if password is not None else None


def mask_url(url: str) -> str:
    """``url`` with the password of its userinfo replaced by ``***`` (for messages)."""
    return _with_password(url, MASK)


def public_url(url: str) -> str:
    """``url`` without the password of its userinfo: safe to show, log or pass on.

    A process given it (a worker's processors) finds the password where this one did:
    ``OMIUM_KAFKA_PASSWORD``, ``OMIUM_KAFKA_PASSWORD_FILE`` or the URL's ``password_file``.
    """
    return _with_password(url, None)


def _with_password(url: str, replacement: str | None) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:{replacement}@{hosts}" if replacement else f"{user}@{hosts}"
    return urlunsplit(parts._replace(netloc=netloc))


def _password(
    parts: Any, query: dict[str, str], settings: SecuritySettings, shown: str
) -> SecretStr | None:
    if parts.password is not None:
        return SecretStr(unquote(parts.password))
    path = query.get("password_file") or None
    if path is None and settings.kafka_password is not None:
        return settings.kafka_password
    path = path or settings.kafka_password_file
    if path is None:
        return None
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise ConfigError(
            f"{shown}: cannot read the Kafka password file {path}: {exc.strerror}",
            hint="password_file / OMIUM_KAFKA_PASSWORD_FILE must name a readable file",
        ) from None
    return SecretStr(lines[0] if lines else "")


def _pick(
    shown: str,
    name: str,
    query: dict[str, str],
    setting: str | None,
    default: str,
    allowed: tuple[str, ...],
) -> str:
    value = (query.get(name) or setting or default).upper().replace("_", "-")
    if name == "security_protocol":
        value = value.replace("-", "_")
    if value not in allowed:
        raise ConfigError(
            f"{shown}: {name}={value} is not one of {', '.join(allowed)}",
            hint=f"set it in the URL (?{name}=…) or OMIUM_KAFKA_{name.upper()}",
        )
    return value


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
