#!/usr/bin/env python3
"""Readiness probe for a Kafka broker, speaking the wire protocol with the stdlib only.

    probe.py HOST:PORT [--expect-brokers N] [--timeout S]

Sends a Metadata request for no topics and reads the broker list. Exits 0 as soon as
the broker answers and lists at least N brokers, else retries until the timeout and
exits 1 with the last reason on stderr (2 on bad usage).

Why Metadata v4: Kafka 4.0 removed Metadata v0-v3 (KIP-896); a 4.x broker just closes
the connection on them. v4-v8 share the non-flexible layout used here; v9+ switch to
tagged fields. A TCP connect alone is not enough: the port opens before the broker has
caught up with the metadata log and been unfenced, and a fenced broker is not listed.
"""

import argparse
import socket
import struct
import sys
import time

API_METADATA = 3
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


def metadata(host, port, timeout, correlation_id=1):
    """Returns (brokers [(id, host, port)], controller_id, cluster_id)."""
    # Request header v1: api_key, api_version, correlation_id, client_id (int16-length string).
    header = (
        struct.pack(">hhih", API_METADATA, METADATA_VERSION, correlation_id, len(CLIENT_ID))
        + CLIENT_ID
    )
    # Body v4: topics = empty array (v1+: empty means "no topics", null would mean all),
    # allow_auto_topic_creation = false.
    body = struct.pack(">ib", 0, 0)
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        if size < 4 or size > 64 * 1024 * 1024:
            raise ProbeError(f"implausible response size {size} (not a Kafka listener?)")
        r = _Reader(_recv_exact(sock, size))
    if r.take(">i") != correlation_id:  # response header v0 is just the correlation id
        raise ProbeError("correlation id mismatch")
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
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)

    host, sep, port_s = args.address.rpartition(":")
    if not sep or not port_s.isdigit():
        ap.error(f"address must be HOST:PORT, got {args.address!r}")
    port = int(port_s)

    deadline = time.monotonic() + max(args.timeout, 0.0)
    attempt, reason = 0, "no attempt made"
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        try:
            brokers, controller_id, cluster_id = metadata(
                host, port, max(min(remaining, 5.0), 0.5), attempt
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
