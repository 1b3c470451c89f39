"""A real headless Chromium, driven over the DevTools protocol on a local websocket.

Chromium comes from the system's package manager (Debian: ``apt-get install chromium``); CI
installs it where it is missing, so there a missing browser fails the tests instead of skipping
them. The browser starts with a fresh profile and every background service off, so the only
network traffic is what the page itself asks for, which :class:`PageLoad` records.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
START_SECONDS = 20
SETTLE_SECONDS = 0.5  # after the load event, for late frames, console messages and requests


def chromium_or_skip() -> Path:
    """The system Chromium; a failure under CI (which installs it), else a skip naming the fix."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"{CHROMIUM} not found: apt-get install chromium (CI installs it; there this test fails)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class PageLoad:
    """What loading one page did: console errors, requests, and the text of each document."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # URLs, the page's own included
    frame_texts: list[str] = field(default_factory=list)  # the rendered text of each subframe's document
    page_text: str = ""  # the top document's own text (subframes excluded)


class DevTools:
    """One page target's protocol session, flattened: subframes in other processes are sessions too."""

    def __init__(self, websocket: ClientConnection) -> None:
        self._ws = websocket
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        while True:
            answer = json.loads(self._ws.recv(timeout=START_SECONDS))
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self._event(answer)

    def wait_for(self, method: str, timeout: float = START_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not any(e["method"] == method for e in self.events):
            self._event(json.loads(self._ws.recv(timeout=max(0.01, deadline - time.monotonic()))))

    def drain(self, quiet: float) -> None:
        """Take events until none has come for ``quiet`` seconds."""
        while True:
            try:
                self._event(json.loads(self._ws.recv(timeout=quiet)))
            except TimeoutError:
                return

    def _event(self, message: dict[str, Any]) -> None:
        self.events.append(message)

    def enable(self, session: str | None = None) -> None:
        """Report console messages, log entries and requests of the page or a subframe's session.

        Runtime and Log report what was logged before they were enabled, so a subframe attached
        while loading loses none; its requests before that are not reported, which is why the
        network test also counts what a server on 127.0.0.1 received.
        """
        for domain in ("Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        if session is None:
            self.send("Page.enable")


@contextmanager
def chromium(executable: Path, width: int = 1000, height: int = 800) -> Iterator[DevTools]:
    """A headless Chromium with a fresh profile; yields the protocol session of its one page."""
    with tempfile.TemporaryDirectory(prefix="preview-chromium-") as profile:
        process = subprocess.Popen(
            [
                str(executable),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = _devtools_port(Path(profile) / "DevToolsActivePort", process)
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/json/list", timeout=START_SECONDS
            ) as answer:
                targets = json.load(answer)
            page = next(t for t in targets if t["type"] == "page")
            with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=START_SECONDS) as ws:
                tools = DevTools(ws)
                tools.enable()
                # Subframes in processes of their own (sandboxed ones may be) become sessions too.
                tools.send(
                    "Target.setAutoAttach",
                    {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True},
                )
                yield tools
        finally:
            os.killpg(process.pid, signal.SIGTERM)  # the browser's own group: it and its renderers
            process.wait(timeout=10)
            shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(path: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if path.is_file() and len(lines := path.read_text().splitlines()) >= 2:
            return int(lines[0])
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode} before its DevTools port opened")
        time.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port")


def load(tools: DevTools, url: str) -> PageLoad:
    """Navigate, wait for the load event and a quiet moment, then read what happened."""
    tools.events.clear()
    tools.send("Page.navigate", {"url": url})
    tools.wait_for("Page.loadEventFired")
    tools.drain(SETTLE_SECONDS)
    for subframe in _sessions(tools.events):
        tools.enable(subframe)
    tools.drain(SETTLE_SECONDS)
    result = PageLoad()
    for event in tools.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in {"error", "assert"}:
            result.console_errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            result.console_errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            result.console_errors.append(params["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            result.requests.append(params["request"]["url"])
    documents: list[str | None] = [None, *_sessions(tools.events)]  # None: the page's own session
    for session in documents:
        root = tools.send("DOM.getDocument", {"depth": -1, "pierce": True}, session=session)["root"]
        top, frames = _texts(root)
        if session is None:
            result.page_text = top
        else:
            frames = [top]  # a subframe in a process of its own: its document is this session's root
        result.frame_texts.extend(frames)
    return result


def _sessions(events: list[dict[str, Any]]) -> list[str]:
    """The subframe sessions still attached (a frame that navigated away has left its session)."""
    attached = [e["params"]["sessionId"] for e in events if e.get("method") == "Target.attachedToTarget"]
    detached = {e["params"]["sessionId"] for e in events if e.get("method") == "Target.detachedFromTarget"}
    return [session for session in attached if session not in detached]


def _texts(document: dict[str, Any]) -> tuple[str, list[str]]:
    """The document's own rendered text (no script or style source) and that of each subframe's document."""
    own: list[str] = []
    frames: list[str] = []

    def walk(node: dict[str, Any], into: list[str]) -> None:
        if node.get("nodeName") in {"SCRIPT", "STYLE", "HEAD"}:
            return
        if node.get("nodeType") == 3:
            into.append(node.get("nodeValue", ""))
        for child in node.get("children", []):
            walk(child, into)
        if "contentDocument" in node:
            text: list[str] = []
            walk(node["contentDocument"], text)
            frames.append(_words(text))

    walk(document, own)
    return _words(own), frames


def _words(texts: list[str]) -> str:
    """Text nodes as one line, runs of white space as one space (as a reader sees the words)."""
    return " ".join(" ".join(texts).split())


def screenshot(tools: DevTools, url: str, path: Path, width: int, height: int) -> None:
    """A PNG of the top ``height`` pixels of the page at ``width``."""
    load(tools, url)
    tools.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
    data = tools.send("Page.captureScreenshot", {"format": "png", "clip": clip})["data"]
    path.write_bytes(base64.b64decode(data))
