#!/usr/bin/env python3
"""Readiness probe for a Kafka broker, speaking the wire protocol with the stdlib only.

    probe.py HOST:PORT [--expect-brokers N] [--timeout S]
             [--tls-ca FILE [--tls-hostname NAME] [--tls-cert FILE --tls-key FILE]]
             [--sasl-user U --sasl-password-file F]

Over TLS (``--tls-ca``) and SASL SCRAM-SHA-512 (``--sasl-user``) for a broker started with
``broker.sh up --auth``: the same Metadata request after the TLS handshake and the SCRAM
exchange (RFC 5802 with the stdlib's hashlib and hmac).

Sends a Metadata request for no topics and reads the broker list. Exits 0 as soon as
the broker answers and lists at least N brokers, else retries until the timeout and
exits 1 with the last reason on stderr (2 on bad usage).

Why Metadata v4: Kafka 4.0 removed Metadata v0-v3 (KIP-896); a 4.x broker just closes
the connection on them. v4-v8 share the non-flexible layout used here; v9+ switch to
tagged fields. A TCP connect alone is not enough: the port opens before the broker has
caught up with the metadata log and been unfenced, and a fenced broker is not listed.
"""

import argparse
import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
import sys
import time

API_METADATA = 3
API_SASL_HANDSHAKE, API_SASL_AUTHENTICATE = 17, 36
SCRAM = "SCRAM-SHA-512"
METADATA_VERSION = 4
CLIENT_ID = b"omium-probe"


class ProbeError(Exception):
    """The listener answered, but not like a ready Kafka broker."""


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ProbeError("connection closed by broker (unsupported request version?)")
        buf += chunk
    return bytes(buf)


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ProbeError("truncated Metadata response")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("utf-8", "replace")


def _request(sock, api_key, version, correlation_id, body):
    """One request/response exchange; returns the response body after its correlation id."""
    # Request header v1: api_key, api_version, correlation_id, client_id (int16-length string).
    header = struct.pack(">hhih", api_key, version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    request = header + body
    sock.sendall(struct.pack(">i", len(request)) + request)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    if size < 4 or size > 64 * 1024 * 1024:
        raise ProbeError(f"implausible response size {size} (not a Kafka listener?)")
    r = _Reader(_recv_exact(sock, size))
    if r.take(">i") != correlation_id:  # response header v0 is just the correlation id
        raise ProbeError("correlation id mismatch")
    return r


def _string(value):
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def _scram(sock, user, password):
    """SaslHandshake v1 then SCRAM-SHA-512 in SaslAuthenticate v1 (both non-flexible)."""
    r = _request(sock, API_SASL_HANDSHAKE, 1, 101, _string(SCRAM))
    if r.take(">h") != 0:
        raise ProbeError(f"the broker does not offer {SCRAM}")
    name = user.replace("=", "=3D").replace(",", "=2C")
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={name},r={nonce}"
    server_first = _authenticate(sock, 102, f"n,,{first_bare}")
    fields = dict(item.split("=", 1) for item in server_first.split(","))
    if not fields["r"].startswith(nonce):
        raise ProbeError("SCRAM: the server nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
    )
    client_key = hmac.digest(salted, b"Client Key", "sha512")
    final_bare = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{final_bare}".encode()
    signature = hmac.digest(hashlib.sha512(client_key).digest(), auth_message, "sha512")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
    _authenticate(sock, 103, f"{final_bare},p={proof.decode()}")


def _authenticate(sock, correlation_id, message):
    raw = message.encode()
    r = _request(sock, API_SASL_AUTHENTICATE, 1, correlation_id, struct.pack(">i", len(raw)) + raw)
    code, error = r.take(">h"), r.string()
    if code != 0:
        raise ProbeError(f"SASL authentication failed: {error}")
    n = r.take(">i")
    return r.data[r.pos : r.pos + n].decode()


def metadata(host, port, timeout, correlation_id=1, tls=None, sasl=None):
    """Returns (brokers [(id, host, port)], controller_id, cluster_id).

    ``tls`` is ``(ssl_context, server_hostname)``; ``sasl`` is ``(user, password)``.
    """
    # Body v4: topics = empty array (v1+: empty means "no topics", null would mean all),
    # allow_auto_topic_creation = false.
    body = struct.pack(">ib", 0, 0)
    with socket.create_connection((host, port), timeout=timeout) as raw:
        raw.settimeout(timeout)
        sock = tls[0].wrap_socket(raw, server_hostname=tls[1]) if tls else raw
        if sasl:
            _scram(sock, *sasl)
        r = _request(sock, API_METADATA, METADATA_VERSION, correlation_id, body)
    r.take(">i")  # throttle_time_ms
    brokers = []
    for _ in range(r.take(">i")):
        node_id = r.take(">i")
        bhost = r.string()
        bport = r.take(">i")
        r.string()  # rack
        brokers.append((node_id, bhost, bport))
    cluster_id = r.string()
    controller_id = r.take(">i")
    return brokers, controller_id, cluster_id


def main(argv=None):
    """Probe until ready or the timeout; 0 when ready, 1 otherwise."""
    ap = argparse.ArgumentParser(description="Wait until a Kafka broker answers Metadata requests.")
    ap.add_argument("address", help="HOST:PORT of a broker listener")
    ap.add_argument(
        "--expect-brokers",
        type=int,
        default=1,
        metavar="N",
        help="ready only when metadata lists at least N brokers (default 1)",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="give up after S seconds in total (default 30)",
    )
    ap.add_argument("--tls-ca", metavar="FILE", help="speak TLS, trusting this CA (PEM)")
    ap.add_argument("--tls-hostname", metavar="NAME", help="the name the certificate must have")
    ap.add_argument("--tls-cert", metavar="FILE", help="client certificate (PEM), mutual TLS")
    ap.add_argument("--tls-key", metavar="FILE", help="its private key (PEM)")
    ap.add_argument("--sasl-user", metavar="U", help="authenticate with SCRAM-SHA-512 as U")
    ap.add_argument("--sasl-password-file", metavar="F", help="U's password (first line of F)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)

    host, sep, port_s = args.address.rpartition(":")
    if not sep or not port_s.isdigit():
        ap.error(f"address must be HOST:PORT, got {args.address!r}")
    port = int(port_s)
    tls = sasl = None
    if args.tls_ca:
        context = ssl.create_default_context(cafile=args.tls_ca)
        if args.tls_cert:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        tls = (context, args.tls_hostname or host)
    if args.sasl_user:
        with open(args.sasl_password_file) as f:
            sasl = (args.sasl_user, f.readline().rstrip("\n"))

    deadline = time.monotonic() + max(args.timeout, 0.0)
    attempt, reason = 0, "no attempt made"
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        try:
            brokers, controller_id, cluster_id = metadata(
                host, port, max(min(remaining, 5.0), 0.5), attempt, tls, sasl
            )
            if len(brokers) >= args.expect_brokers:
                if not args.quiet:
                    listed = ",".join(f"{b[0]}@{b[1]}:{b[2]}" for b in sorted(brokers))
                    print(
                        f"ready {args.address}: {len(brokers)} broker(s) [{listed}], "
                        f"controller {controller_id}, cluster {cluster_id}"
                    )
                return 0
            reason = f"metadata lists {len(brokers)} broker(s), want {args.expect_brokers}"
        except (OSError, ProbeError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        if time.monotonic() + 0.25 >= deadline:
            break
        time.sleep(0.25)
    print(f"not ready {args.address} after {args.timeout:.1f}s: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
