"""A reverse proxy on 127.0.0.1 that injects faults in front of another local server (moto).

Point ``AWS_ENDPOINT_URL_S3`` at it and queue faults: the next N requests whose method and
path match answer a given HTTP status with an AWS-style XML error (``InternalError``,
``SlowDown``...), or are held for a while before being forwarded (so the client's read
timeout fires). Everything else is forwarded unchanged.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})


@dataclass
class Fault:
    method: str  # "GET", "PUT", ... or "*"
    path: re.Pattern[str]
    remaining: int
    status: int = 500
    code: str = "InternalError"
    delay_seconds: float = 0.0  # > 0: hold the request this long, then forward it


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.injected = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def fail(
        self, method: str, path: str, count: int, *, status: int = 500, code: str = "InternalError"
    ) -> None:
        """The next ``count`` matching requests answer ``status`` with error ``code``."""
        with self._lock:
            self._faults.append(Fault(method, re.compile(path), count, status, code))

    def delay(self, method: str, path: str, count: int, seconds: float) -> None:
        """The next ``count`` matching requests are held ``seconds`` before being forwarded."""
        with self._lock:
            self._faults.append(Fault(method, re.compile(path), count, delay_seconds=seconds))

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.method in {"*", method} and fault.path.search(path):
                    fault.remaining -= 1
                    self.injected += 1
                    return fault
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Silent: the tests read outcomes, not access logs."""

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take(self.command, self.path)
                if fault is not None and fault.delay_seconds == 0:
                    self._answer_error(fault)
                    return
                if fault is not None:
                    time.sleep(fault.delay_seconds)
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                try:
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP_BY_HOP | {"content-length"}:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its read timeout): exactly the fault being simulated
                finally:
                    upstream.close()

            def _answer_error(self, fault: Fault) -> None:
                body = (
                    f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{fault.code}</Code>'
                    f"<Message>injected by FaultProxy</Message></Error>"
                ).encode()
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

        return Handler
