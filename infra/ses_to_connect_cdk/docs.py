"""``python -m ses_to_connect_cdk.docs [--check]``: write the configuration tables of docs/infrastructure.md.

Every table is generated from the settings' declarations (``ses_to_connect.settings`` for the
function's, ``ses_to_connect_cdk.config`` for the stack's own) and sits between two markers::

    <!-- BEGIN generated table: NAME (python -m ses_to_connect_cdk.docs) -->
    <!-- END generated table: NAME -->

The text around the tables is written by hand. ``--check`` writes nothing and exits 1 when the
file differs from what would be written (``tests/infra/test_infra_docs.py`` checks the same).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ses_to_connect.settings import FUNCTION_SETTINGS, Setting
from ses_to_connect_cdk.keys import FUNCTION_KEYS, LAMBDA_KEYS, RULE_KEYS, STORAGE_KEYS, TARGET_KEYS
from ses_to_connect_cdk.paths import REPO_ROOT

DOC = REPO_ROOT / "docs" / "infrastructure.md"
COMMAND = "make docs (python -m ses_to_connect_cdk.docs)"
# The tables by name: cdk.json keys, and the function's variables the stack fills in itself.
KEY_TABLES: Mapping[str, tuple[Setting, ...]] = {
    "target": TARGET_KEYS,
    "rule": RULE_KEYS,
    "function": FUNCTION_KEYS,
    "lambda": LAMBDA_KEYS,
    "storage": STORAGE_KEYS,
}
STACK_VARIABLES = tuple(setting for setting in FUNCTION_SETTINGS if not setting.key)
_BLOCK = re.compile(
    r"(<!-- BEGIN generated table: (?P<name>[a-z]+) \(python -m ses_to_connect_cdk\.docs\) -->\n)"
    r".*?"
    r"(<!-- END generated table: (?P=name) -->)",
    re.DOTALL,
)


def _code(value: Any) -> str:
    """A value as cdk.json writes it, in backticks."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Mapping | tuple | list):
        text = json.dumps(dict(value) if isinstance(value, Mapping) else list(value))
    else:
        text = str(value)
    return f"`{text}`"


def _default(setting: Setting) -> str:
    if setting.default_text:
        return setting.default_text
    if setting.required:
        return "required"
    return "unset" if setting.default is None else _code(setting.default)


def _allowed(setting: Setting) -> str:
    if setting.choices:
        return ", ".join(_code(c) if isinstance(c, str) else str(c) for c in setting.choices)
    return "" if setting.low is None else f"{setting.low}-{setting.high}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |\n" for line in lines)


def key_table(settings: Sequence[Setting]) -> str:
    """cdk.json keys: with a column for the function's variable when any of them sets one."""
    variables = any(setting.env for setting in settings)
    header = ["Key", *(["Variable"] if variables else []), "Type", "Default", "Allowed", "Example", "Notes"]
    rows = [
        [
            f"`{s.key}`",
            *([f"`{s.env}`" if s.env else ""] if variables else []),
            s.type,
            _default(s),
            _allowed(s),
            f"`{s.example}`" if s.example else "",
            s.doc,
        ]
        for s in settings
    ]
    return _table(header, rows)


def variable_table(settings: Sequence[Setting]) -> str:
    """The function's variables that have no key: the stack sets them to its own resources."""
    return _table(["Variable", "Set to", "Unset"], [[f"`{s.env}`", s.doc, _default(s)] for s in settings])


def tables() -> dict[str, str]:
    return {name: key_table(keys) for name, keys in KEY_TABLES.items()} | {
        "variables": variable_table(STACK_VARIABLES)
    }


def render(text: str) -> str:
    """``text`` with every generated table rewritten; each table must have its markers."""
    generated = tables()
    found = [match["name"] for match in _BLOCK.finditer(text)]
    if sorted(found) != sorted(generated):
        raise ValueError(f"{DOC.name}: expected one marked table each for {sorted(generated)}, found {found}")
    return _BLOCK.sub(lambda m: m.group(1) + generated[m["name"]] + m.group(3), text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ses_to_connect_cdk.docs", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file is out of date; write nothing"
    )
    args = parser.parse_args(argv)
    path = DOC
    current = path.read_text(encoding="utf-8")
    wanted = render(current)
    if wanted == current:
        print(f"{path.relative_to(REPO_ROOT)} is up to date")
        return 0
    if args.check:
        print(f"{path.relative_to(REPO_ROOT)} is out of date: run {COMMAND}", file=sys.stderr)
        return 1
    path.write_text(wanted, encoding="utf-8")
    print(f"wrote the configuration tables of {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
