"""TEST SUPPORT ONLY: a small ClickHouse HTTP front over chDB, never offered to users.

No current ClickHouse server can be installed on these machines (see ``docs/analytics.md``),
so to run omium's server path (``OMIUM_ANALYTICS_URL=http://…``) in ``make test``, this
front passes what clickhouse-connect sends over real HTTP to a chDB engine and returns the
engine's bytes: the query from the URL or the body, ``param_*`` query parameters (bound by
the engine), settings (``insert_deduplication_token``, ``readonly`` …) as a ``SETTINGS``
clause, lz4/zstd/gzip request bodies, Native inserts (through ``FROM INFILE``), errors as
HTTP 500 with ``X-ClickHouse-Exception-Code``. It serves one request at a time.

``python chdb_http_front.py DATA_DIR PORT`` serves until killed; tests use :func:`serve`.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

import chdb
import lz4.frame
from backports import zstd

#: URL parameters that steer the HTTP exchange, not the query
TRANSPORT = {
    "query", "query_id", "database", "client_protocol_version", "enable_http_compression",
    "wait_end_of_query", "send_progress_in_http_headers", "http_headers_progress_interval_ms",
    "session_id", "session_timeout", "session_check", "compress", "decompress", "user",
    "password", "default_format",
}  # fmt: skip
_FORMAT = re.compile(r"\s+FORMAT\s+(\w+)\s*;?\s*$", re.I)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(.+?)\s+FORMAT\s+(\w+)\s*$", re.I | re.S)
_CODE = re.compile(r"Code:\s*(\d+)")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _decompress(body: bytes, encoding: str | None) -> bytes:
    if encoding == "lz4":
        return lz4.frame.decompress(body)
    if encoding == "zstd":
        return zstd.decompress(body)
    if encoding == "gzip":
        return gzip.decompress(body)
    return body


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _settings(pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    body = ", ".join(f"{k} = {v if _NUMBER.fullmatch(v) else _quote(v)}" for k, v in pairs.items())
    return f" SETTINGS {body}"


class Front:
    """One chDB connection behind a lock, answering ClickHouse HTTP requests."""

    def __init__(self, path: str) -> None:
        self.conn = chdb.connect(path)
        self.lock = threading.Lock()
        #: the request encodings seen, written beside the folder (tests check compression)
        self.encodings = open(path + ".encodings", "a")  # noqa: SIM115

    def answer(self, params: dict[str, str], body: bytes) -> tuple[bytes, str]:
        """The engine's output and its format for one request."""
        query = params.get("query")
        if query is None:
            newline = body.find(b"\n")
            head = body if newline < 0 else body[:newline]
            if _INSERT.match(head.decode(errors="replace")):
                query, body = head.decode(), body[newline + 1 :]
            else:
                query, body = body.decode(), b""
        binds = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        settings = {k: v for k, v in params.items() if k not in TRANSPORT and k not in binds
                    and not k.startswith("param_")}  # fmt: skip
        insert = _INSERT.match(query.strip())
        with self.lock:
            if params.get("database"):
                self.conn.query(f"USE {params['database']}", "TabSeparated")
            if insert and body:
                return self._insert(insert.group(1), insert.group(2), body, settings), "Native"
            fmt = "TabSeparated"
            found = _FORMAT.search(query)
            if found:
                fmt, query = found.group(1), query[: found.start()]
            sql = query.rstrip().rstrip(";") + _settings(settings)
            result = self.conn.query(sql, fmt, params=binds)
            return result.bytes(), fmt

    def _insert(self, target: str, fmt: str, data: bytes, settings: dict[str, str]) -> bytes:
        with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as tmp:
            tmp.write(data)
        try:
            sql = f"INSERT INTO {target} FROM INFILE {_quote(tmp.name)}{_settings(settings)} "
            self.conn.query(sql + f"FORMAT {fmt}", "TabSeparated")
        finally:
            os.unlink(tmp.name)
        return b""


def handler(front: Front) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving ``front``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            return

        def _serve(self, body: bytes) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            encoding = self.headers.get("Content-Encoding")
            if encoding:
                front.encodings.write(encoding + "\n")
                front.encodings.flush()
            body = _decompress(body, encoding)
            try:
                out, fmt = front.answer(params, body)
                code, headers = 200, {"X-ClickHouse-Format": fmt}
            except Exception as exc:  # noqa: BLE001 - the engine's error goes to the client
                text = str(exc)
                found = _CODE.search(text)
                out, code = (text + "\n").encode(), 500
                headers = {"X-ClickHouse-Exception-Code": found.group(1) if found else "1000"}
            self.send_response(code)
            headers |= {
                "Content-Length": str(len(out)),
                "Content-Type": "application/octet-stream",
                "X-ClickHouse-Timezone": "UTC",
                "X-ClickHouse-Query-Id": params.get("query_id", str(uuid.uuid4())),
                "X-ClickHouse-Summary": json.dumps({"read_rows": "0", "written_rows": "0"}),
            }
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(out)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                self._serve(self._chunked())
            else:
                self._serve(self.rfile.read(length))

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if urlsplit(self.path).path == "/ping":
                out = b"Ok.\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return
            self._serve(b"")

        def _chunked(self) -> bytes:
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()

    return Handler


def serve(path: str, port: int = 0) -> HTTPServer:
    """Serve a chDB folder on 127.0.0.1 in a daemon thread; ``server_address[1]`` is the port."""
    server = HTTPServer(("127.0.0.1", port), handler(Front(path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
    threading.Event().wait()
