"""``preview`` writes one page of what the agent will see, checked in a real Chromium.

The samples' page loads with no console error and shows the customer's words inside the body's
sandboxed frame; a hostile body's scripts never run and nothing on the page reaches the network
(a server on 127.0.0.1 that every hostile URL points at is never asked for anything).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.policy import SMTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ses_to_connect.attachments import Skip
from ses_to_connect_tools.local_pipeline import preview
from tests.preview.browser import DevTools, chromium, chromium_or_skip, load
from tests.support.mail import message

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "samples"
CONFIG = REPO_ROOT / "cdk.json"


@pytest.fixture(scope="module")
def browser() -> Iterator[DevTools]:
    with chromium(chromium_or_skip()) as tools:
        yield tools


@pytest.fixture
def witness() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that records every request: a request here means the page reached the network."""
    hits: list[str] = []

    class Witness(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"reached")

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Witness)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_the_samples_preview_shows_each_contact_with_no_console_error(
    browser: DevTools, tmp_path: Path
) -> None:
    output = tmp_path / "preview.html"

    assert preview.main([str(SAMPLES), "--config", str(CONFIG), "-o", str(output)]) == 0

    page = load(browser, output.as_uri())
    assert page.console_errors == []
    assert page.requests == [output.as_uri()]  # the page itself, nothing else
    bodies = " ".join(page.frame_texts)
    assert "Where is my order #1234?" in bodies  # 01's text body, rendered inside its frame
    assert "See the screenshot below:" in bodies  # 02's HTML body
    assert "[image: screenshot.png, attached]" in bodies  # its cid: image, named in place by the bridge
    assert "¿Cuándo llegará mi pedido? Muchas gracias, José" in bodies  # 07's Latin-1, decoded
    assert len(page.frame_texts) == 7  # one body per contact; the quarantined have none
    for text in (
        "Invoice and documents attached",
        "setup.exe",
        "type_not_allowed: Connect does not accept this file type",
        "invoice-2024-001.pdf",
        "Quarantined by rule spam:FAIL (the default policy): no contact is created.",
        "José García <jose@cliente.example>",
        "reply in the thread of contact",
        "Ana Customer <ana@customer.example>",
    ):
        assert text in page.page_text, text


def _hostile(server: str) -> bytes:
    html = f"""<p>My card was charged twice.</p>
<script>document.body.innerHTML = 'SCRIPT RAN'; fetch('{server}/script');</script>
<img src="x" onerror="document.body.innerHTML = 'HANDLER RAN'">
<img src="{server}/img" alt="remote">
<link rel="stylesheet" href="{server}/style.css">
<style>@import url({server}/import.css); p {{ background: url({server}/background); }}</style>
<iframe src="{server}/frame"></iframe>
<object data="{server}/object"></object>
<video poster="{server}/poster" src="{server}/video"></video>
<picture><source srcset="{server}/source"><img src="cid:logo@x"></picture>
<form action="{server}/form"><input type="image" src="{server}/input"></form>
<meta http-equiv="refresh" content="0; url={server}/refresh">
<svg><image href="{server}/svg"/></svg>
"""
    return message(
        "My card was charged twice.",
        html=html,
        subject="<script>alert(1)</script> Charged twice",
        sender="Mallory <mallory@customer.example>",
        message_id="<hostile@customer.example>",
        policy=SMTP,
    ).as_bytes()


def test_a_hostile_body_runs_no_script_and_reaches_no_network(
    browser: DevTools, tmp_path: Path, witness: tuple[str, list[str]]
) -> None:
    server, hits = witness
    (tmp_path / "hostile.eml").write_bytes(_hostile(server))
    output = tmp_path / "preview.html"

    assert preview.main([str(tmp_path / "hostile.eml"), "--config", str(CONFIG), "-o", str(output)]) == 0

    page = load(browser, output.as_uri())
    assert hits == []
    assert page.requests == [output.as_uri()]
    [body] = page.frame_texts
    assert "My card was charged twice." in body
    assert "SCRIPT RAN" not in body and "HANDLER RAN" not in body
    assert f"[remote image {server}/img]" in body
    # The subject is text on the page, not markup: the top document holds it as text.
    assert "<script>alert(1)</script> Charged twice" in page.page_text
    # The bridge cleans HTML before sending it (html_clean): no script is left for the page to refuse.
    # The page's own defences are checked on an uncleaned body too, so these checks are not vacuous.
    raw = tmp_path / "raw-body.html"
    raw.write_text(
        preview.body_document(
            {
                "Body": f'<p>Still here.</p><script>document.body.append("SCRIPT RAN")</script>'
                f'<img src="{server}/raw" onerror="document.body.append(`HANDLER RAN`)">',
                "ContentType": "text/html",
            }
        ),
        encoding="utf-8",
    )
    raw_page = load(browser, raw.as_uri())
    assert hits == []
    assert "SCRIPT RAN" not in raw_page.page_text and "HANDLER RAN" not in raw_page.page_text
    assert any(
        "Blocked script execution" in e or "Content Security Policy" in e for e in raw_page.console_errors
    )


def test_text_bodies_are_escaped_and_html_bodies_kept_as_sent() -> None:
    text = preview.body_document({"Body": "<b>1 < 2</b>", "ContentType": "text/plain"})
    assert "<pre>&lt;b&gt;1 &lt; 2&lt;/b&gt;</pre>" in text
    html = preview.body_document(
        {"Body": '<p>Hi <img src="data:image/png;base64,AA=="></p>', "ContentType": "text/html"}
    )
    assert '<p>Hi <img src="data:image/png;base64,AA=="></p>' in html  # data: images are the agent's too
    assert preview.CSP in html
    labelled = preview.body_document(
        {"Body": '<img data-src="x.png" src="cid:a@b">', "ContentType": "text/html"}
    )
    assert "[inline image cid:a@b]" in labelled
    assert set(preview.SKIP_REASONS) == set(Skip)  # every reason a file can be skipped for is explained
