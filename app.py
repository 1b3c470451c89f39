#!/usr/bin/env python3
"""CDK entry point (``npx cdk synth``): builds the app from cdk.json context.

The logic lives in ``infra/ses_to_connect_cdk/``."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent
# The construct's package and the function's (whose settings contract the stack reads), from this checkout.
for _path in (_ROOT / "infra", _ROOT / "lambda_src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from ses_to_connect_cdk.application import build_app  # noqa: E402
from ses_to_connect_cdk.config import ConfigError  # noqa: E402


def main() -> int:
    try:
        app, stack = build_app()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    for note in stack.config.notes:
        print(f"note: {note}", file=sys.stderr)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
