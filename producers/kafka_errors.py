"""Why aiokafka could not connect, as one omium error with a hint.

aiokafka tries each bootstrap server, logs why each attempt failed and then raises only
``KafkaConnectionError("Unable to bootstrap from …")``: the reason (a refused password, a
certificate the client does not trust, a listener that expects TLS) is in the log record,
not in the exception. :class:`BootstrapFailures` is a filter on aiokafka's logger that
keeps the exception of each failed attempt; :func:`explain` turns it into a
:class:`~omium.schemas.LogAccessDenied` that says what is wrong and what to change.

Where logging is not configured (the CLI), the records would reach Python's last-resort
handler and print a second, raw line before omium's own: the filter drops them there (the
error omium raises says the same, better). Where it is configured (faust workers, an
application's logging), they pass through unchanged.

A connected client the cluster's ACLs refuse (no Write on a topic, no Read on a group) gets
an authorization error from the broker; :func:`not_authorized` names the user, the
operation and the resource, and the ACL to grant on the log's topic prefix.
"""

from __future__ import annotations

import itertools
import logging
import ssl
from dataclasses import dataclass

from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    IllegalSaslStateError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    UnsupportedSaslMechanismError,
)

from omium.producers.kafka_security import KafkaSecurity
from omium.schemas import LogAccessDenied

#: OpenSSL's verify codes for a certificate that does not name the host (X509_V_ERR_*)
_NAME_MISMATCH = {62, 64}
_CONNECT = 'Unable connect to "%s:%s": %s'
_METADATA = 'Unable to request metadata from "%s:%s": %s'
#: the sender's record of a refused producer id (the exception raised says it too)
_INIT_PID = "Unexpected error during InitProducerIdRequest: %s"

#: the broker's answers to a request the ACLs refuse
AUTHORIZATION_ERRORS = (
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    ClusterAuthorizationFailedError,
)


@dataclass(frozen=True)
class Failure:
    """One failed bootstrap attempt: where, at which stage, and what was raised."""

    seq: int
    server: str
    stage: str  # "connect" (TCP, TLS and SASL) or "metadata" (the first request)
    error: BaseException


class BootstrapFailures(logging.Filter):
    """Keeps the latest failed bootstrap attempt per server, from aiokafka's log records."""

    def __init__(self) -> None:
        super().__init__()
        self._counter = itertools.count(1)
        self.latest: dict[str, Failure] = {}

    def mark(self) -> int:
        """A number that every failure recorded from now on exceeds."""
        return next(self._counter)

    def filter(self, record: logging.LogRecord) -> bool:
        """Record a bootstrap failure; keep the record only if logging would handle it."""
        if record.msg == _INIT_PID:
            return logging.getLogger("aiokafka").hasHandlers()
        if record.msg not in (_CONNECT, _METADATA) or not isinstance(record.args, tuple):
            return True
        host, port, error = record.args
        if isinstance(error, BaseException):
            server = f"{host}:{port}"
            stage = "connect" if record.msg == _CONNECT else "metadata"
            self.latest[server] = Failure(self.mark(), server, stage, error)
        return logging.getLogger("aiokafka").hasHandlers()


_failures: BootstrapFailures | None = None


def bootstrap_failures() -> BootstrapFailures:
    """The process's filter, installed on aiokafka's logger the first time it is asked for."""
    global _failures
    if _failures is None:
        _failures = BootstrapFailures()
        logging.getLogger("aiokafka").addFilter(_failures)
        # a logger's filters see only its own records, not its children's
        logging.getLogger("aiokafka.producer.sender").addFilter(_failures)
    return _failures


#: what each operation needs granted besides itself (Kafka checks Describe first)
_WITH = {"Write": ("Write", "Describe"), "Read": ("Read", "Describe"), "Create": ("Create",)}


def not_authorized(
    bootstrap: str, security: KafkaSecurity, operation: str, resource: str, name: str, prefix: str
) -> LogAccessDenied:
    """The one-line error for a request the cluster's ACLs refused.

    Args:
        bootstrap: the cluster, as the log names it.
        security: the client's settings (the user is named, never the password).
        operation: the ACL operation refused: ``Write``, ``Read`` or ``Create``.
        resource: ``topic`` or ``group``.
        name: the topic's or group's broker-side name.
        prefix: the log's ``topic_prefix``; the hint grants on it (``omium`` without one:
            every topic and group omium names then starts with it).
    """
    who = f"user {security.username!r}" if security.username else "this client"
    principal = f"User:{security.username}" if security.username else "the client's principal"
    grant = " ".join(f"--operation {op}" for op in _WITH.get(operation, (operation,)))
    hint = (
        f"grant {principal} {' and '.join(_WITH.get(operation, (operation,)))} on the "
        f"{resource}s prefixed {prefix or 'omium'!r} (kafka-acls --add --allow-principal "
        f"{principal} {grant} --{resource} '{prefix or 'omium'}' --resource-pattern-type "
        "prefixed), or connect as a user that has them"
    )
    if operation == "Create":
        hint += "; or have the topics made beforehand (`omium topics create`) and set "
        hint += "create_topics=false"
    return LogAccessDenied(
        f"Kafka at {bootstrap}: {who} is not authorized to {operation.lower()} {resource} {name!r}",
        hint=hint,
    )


def explain(bootstrap: str, security: KafkaSecurity, since: int) -> LogAccessDenied | None:
    """The access error behind the latest failures on ``bootstrap``'s servers.

    Only failures recorded after ``since`` (a :meth:`BootstrapFailures.mark`) count.
    None when the client's security settings explain none of them (a broker that is
    down, a port nothing listens on): the caller's own message stands then.
    """
    failures = bootstrap_failures().latest
    for server in bootstrap.split(","):
        failure = failures.get(server.strip())
        if failure is not None and failure.seq > since:
            error = _explain(failure, security)
            if error is not None:
                return error
    return None


def last_reason(bootstrap: str, since: int) -> str | None:
    """Why the latest attempt since ``since`` on one of ``bootstrap``'s servers failed."""
    failures = bootstrap_failures().latest
    for server in bootstrap.split(","):
        failure = failures.get(server.strip())
        if failure is not None and failure.seq > since:
            many = "," in bootstrap  # then say which server this was
            return f"{failure.server}: {_reason(failure.error)}" if many else _reason(failure.error)
    return None


def _explain(failure: Failure, security: KafkaSecurity) -> LogAccessDenied | None:
    at, error, speaks = f"Kafka at {failure.server}", failure.error, security.describe()
    if isinstance(error, SaslAuthenticationFailed):
        return LogAccessDenied(
            f"{at} refused the credentials of user {security.username!r} "
            f"({security.mechanism}): wrong password or unknown user",
            hint="check the user and OMIUM_KAFKA_PASSWORD / password_file, and that the "
            "user exists for this mechanism on the cluster",
        )
    if isinstance(error, UnsupportedSaslMechanismError):
        return LogAccessDenied(
            f"{at} does not offer SASL mechanism {security.mechanism}",
            hint="set sasl_mechanism= to one the cluster enables (PLAIN, SCRAM-SHA-256, "
            "SCRAM-SHA-512)",
        )
    if isinstance(error, IllegalSaslStateError):
        return LogAccessDenied(
            f"{at} does not use SASL on this listener, but this client is set to {speaks}",
            hint="use the cluster's SASL port, or set security_protocol=PLAINTEXT (or SSL)",
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        return _certificate(at, failure, error)
    if security.tls and isinstance(error, ssl.SSLError | ConnectionResetError):
        return LogAccessDenied(
            f"{at} does not speak TLS here (the TLS handshake failed: "
            f"{_reason(error)}), but this client is set to {speaks}",
            hint="use the cluster's TLS port, or set security_protocol=PLAINTEXT "
            "(SASL_PLAINTEXT with SASL) if this listener has no TLS",
        )
    if isinstance(error, KafkaConnectionError) and "closed" in str(error):
        return _closed(at, failure, security)
    return None


def _certificate(at: str, failure: Failure, error: ssl.SSLCertVerificationError) -> LogAccessDenied:
    reason = error.verify_message or _reason(error)
    if error.verify_code in _NAME_MISMATCH:
        host = failure.server.rpartition(":")[0]
        return LogAccessDenied(
            f"{at}: TLS failed, the broker's certificate is not valid for host {host!r} ({reason})",
            hint="connect by a name the certificate holds (its subjectAltName); "
            "ssl_check_hostname=false only for tests",
        )
    return LogAccessDenied(
        f"{at}: TLS failed, the broker's certificate is not trusted ({reason})",
        hint="set ssl_cafile= (or OMIUM_KAFKA_SSL_CAFILE) to the CA that signed the "
        "cluster's certificates (PEM)",
    )


def _closed(at: str, failure: Failure, security: KafkaSecurity) -> LogAccessDenied | None:
    speaks = security.describe()
    if failure.stage == "metadata" and not security.sasl:
        # the connection (and TLS, if any) succeeded; the first request was refused
        return LogAccessDenied(
            f"{at} closed the connection at the first request: the listener requires "
            f"SASL authentication, and this client is set to {speaks}",
            hint="name the user and password (kafka://USER@…, OMIUM_KAFKA_PASSWORD) and set "
            "security_protocol=SASL_SSL",
        )
    if failure.stage == "connect" and not security.tls:
        return LogAccessDenied(
            f"{at} closed the connection at once: the listener expects TLS (and maybe SASL), "
            f"and this client is set to {speaks}",
            hint="set security_protocol=SASL_SSL (or SSL) and, for a private CA, ssl_cafile=",
        )
    if failure.stage == "connect":
        # TLS 1.3 sends the server's verdict on the client's certificate after the
        # handshake: a refused (or missing) one shows as a connection closed at once
        sent = f"the client certificate {security.certfile}" if security.certfile else None
        return LogAccessDenied(
            f"{at} closed the connection after the TLS handshake: the listener requires "
            + (f"a client certificate its CA signed and refused {sent}" if sent else
               "a client certificate (mutual TLS) and this client sent none"),
            hint="set ssl_certfile= and ssl_keyfile= (OMIUM_KAFKA_SSL_CERTFILE/KEYFILE) to a "
            "certificate signed by the CA the cluster trusts",
        )  # fmt: skip
    return None


def _reason(error: BaseException) -> str:
    text = getattr(error, "reason", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())
