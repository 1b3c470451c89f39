#!/usr/bin/env python3
"""CDK entry point (``npx cdk synth``): builds the app from cdk.json context; logic lives in ``infra/``."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent
for _path in (_ROOT, _ROOT / "lambda_src"):  # the settings contract is imported from the function's code
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from infra.application import build_app  # noqa: E402
from infra.config import ConfigError  # noqa: E402


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
