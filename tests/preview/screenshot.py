"""``python -m tests.preview.screenshot [FILE]``: the picture of the demo's preview in the docs.

Runs ``preview`` on ``samples/`` with this checkout's cdk.json and photographs the top of the page
in the system's headless Chromium (default ``docs/preview.png``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ses_to_connect_tools.local_pipeline import preview
from tests.preview.browser import CHROMIUM, chromium, screenshot

REPO_ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1100, 1110


def main(argv: list[str]) -> int:
    target = (Path(argv[0]) if argv else REPO_ROOT / "docs" / "preview.png").resolve()
    os.chdir(REPO_ROOT)  # the page names the folder as given: "samples", as the docs' command does
    with tempfile.TemporaryDirectory(prefix="preview-shot-") as folder:
        page = Path(folder) / "preview.html"
        status = preview.main(["samples", "-o", str(page)])
        if status != 0:
            return status
        with chromium(CHROMIUM, WIDTH, HEIGHT) as tools:
            screenshot(tools, page.as_uri(), target, WIDTH, HEIGHT)
    print(f"{target}: {target.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
