"""The Connect emulator's HTTP side: a ``ThreadingHTTPServer`` on 127.0.0.1 that speaks Connect's
rest-json wire protocol, so callers use an unmodified ``boto3.client("connect", endpoint_url=...)``,
and the routes of the read-only operations, whose URI and query members it decodes by the
botocore model.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from ses_to_connect_tools.local_pipeline.connect_instance_config import INSTANCE_CONFIG_ROUTES
from ses_to_connect_tools.local_pipeline.connect_validation import operation_model

_LOG = logging.getLogger(__name__)

CONTACTS_PATH = "/_emulator/contacts"  # the emulator's own: every contact it created, as JSON
Answer = tuple[int, dict[str, str], bytes]  # HTTP status, headers, body


class ConnectService(Protocol):
    """What the server asks of the emulator."""

    def answer_start_email_contact(self, body: bytes, authorization: str | None) -> Answer: ...

    def next_answer_hooks(self) -> tuple[Callable[[], None], Callable[[], None]] | None: ...

    def answer_read(self, name: str, params: dict[str, Any]) -> Answer: ...

    def stored_file(self, path: str) -> bytes | None: ...

    def contacts_json(self) -> bytes: ...


# Read-only routes: (method, path pattern whose groups are the URI members, operation).
_READ_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"/instance/(?P<InstanceId>[^/]+)"), "DescribeInstance"),
    ("GET", re.compile(r"/instance/(?P<InstanceId>[^/]+)/storage-configs"), "ListInstanceStorageConfigs"),
    ("POST", re.compile(r"/search-email-addresses"), "SearchEmailAddresses"),
    ("GET", re.compile(r"/contacts/(?P<InstanceId>[^/]+)/(?P<ContactId>[^/]+)"), "DescribeContact"),
    (
        "GET",
        re.compile(r"/contact/attributes/(?P<InstanceId>[^/]+)/(?P<InitialContactId>[^/]+)"),
        "GetContactAttributes",
    ),
    (
        "GET",
        re.compile(r"/contact/references/(?P<InstanceId>[^/]+)/(?P<ContactId>[^/]+)"),
        "ListContactReferences",
    ),
    ("GET", re.compile(r"/contact/associated/(?P<InstanceId>[^/]+)"), "ListAssociatedContacts"),
    ("GET", re.compile(r"/attached-files/(?P<InstanceId>[^/]+)/(?P<FileId>[^/]+)"), "GetAttachedFile"),
    ("PUT", re.compile(r"/contact/create-contact"), "CreateContact"),
    ("PUT", re.compile(r"/contact/outbound-email"), "StartOutboundEmailContact"),
    *INSTANCE_CONFIG_ROUTES,
)


def read_request(method: str, target: str, body: bytes) -> tuple[str, dict[str, Any]] | None:
    """(operation, parameters by model member name) for a read-only request, None if it is not one."""
    parts = urlsplit(target)
    for route_method, pattern, name in _READ_ROUTES:
        match = pattern.fullmatch(parts.path)
        if route_method != method or match is None:
            continue
        params: dict[str, Any] = {key: unquote(value) for key, value in match.groupdict().items()}
        shape = operation_model(name).input_shape
        query = parse_qs(parts.query)
        for member_name, member in shape.members.items():
            if member.serialization.get("location") != "querystring":
                continue
            values = query.get(member.serialization.get("name", member_name))
            if values is None:
                continue
            if member.type_name == "list":
                params[member_name] = values
            elif member.type_name == "integer":
                params[member_name] = int(values[0]) if values[0].isdigit() else values[0]
            else:
                params[member_name] = values[0]
        if body:
            try:
                decoded = json.loads(body)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict):
                params.update(decoded)
        return name, params
    return None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Load tests open many connections at once; the stdlib's backlog of 5 would refuse some of them.
    request_queue_size = 128


def handler_class(emulator: ConnectService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ConnectEmulator"

        def do_PUT(self) -> None:
            # Read the body first, whatever the answer, so the connection stays in sync.
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if urlsplit(self.path).path == "/contact/email":
                answer = emulator.answer_start_email_contact(body, self.headers.get("Authorization"))
                hooks = emulator.next_answer_hooks()
                if hooks is not None:
                    hooks[0]()
                self._send(*answer)
                if hooks is not None:
                    hooks[1]()
            else:
                self._send_read(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            stored = emulator.stored_file(path)
            if path == CONTACTS_PATH:
                self._send(200, {"Content-Type": "application/json"}, emulator.contacts_json())
            elif stored is not None:
                self._send(200, {"Content-Type": "application/octet-stream"}, stored)
            else:
                self._send_read(b"")

        def do_POST(self) -> None:
            self._send_read(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _send_read(self, body: bytes) -> None:
            request = read_request(self.command, self.path, body)
            if request is None:
                self._send_unknown()
            else:
                self._send(*emulator.answer_read(*request))

        def _send_unknown(self) -> None:
            body = json.dumps({"message": f"No operation at {self.command} {self.path}"}).encode()
            self._send(
                404,
                {"Content-Type": "application/json", "x-amzn-ErrorType": "UnknownOperationException"},
                body,
            )

        def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up waiting (a read timeout under set_delay): nothing left to tell it.
                _LOG.debug("client closed the connection before the response")

        def log_message(self, format: str, *args: Any) -> None:
            _LOG.debug(format, *args)

    return Handler
